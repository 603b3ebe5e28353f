"""Character-level DNA vocabulary: encode, decode, complement.

Tokens 0-4 are the bases A C G T N; 5-7 are specials (pad, mask, bos). The vocabulary has 8
entries so an embedding or LM head is already a multiple of 8. Soft-masked (lowercase) bases
are upper-cased with a per-base flag kept for optional loss weighting; IUPAC ambiguity codes
(R Y S W K M B D H V, and U as T) become N; anything else raises `AlphabetError` naming the
file, record and 0-based position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genomamba.errors import AlphabetError

BASES = "ACGTN"
A, C, G, T, N = range(5)
PAD, MASK, BOS = 5, 6, 7
SPECIALS = {"<pad>": PAD, "<mask>": MASK, "<bos>": BOS}
TOKENS = list(BASES) + list(SPECIALS)
VOCAB_SIZE = len(TOKENS)  # 8
IUPAC_AMBIGUOUS = "RYSWKMBDHV"

_INVALID = 255
# bytes -> token; 255 marks characters that are not DNA
_ENCODE = np.full(256, _INVALID, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _ENCODE[ord(_b)] = _ENCODE[ord(_b.lower())] = _i
for _b in IUPAC_AMBIGUOUS:
    _ENCODE[ord(_b)] = _ENCODE[ord(_b.lower())] = N
_ENCODE[ord("U")] = _ENCODE[ord("u")] = T
_SOFTMASKED = np.zeros(256, dtype=bool)
_SOFTMASKED[[c for c in range(256) if chr(c).islower() and _ENCODE[c] != _INVALID]] = True
_DECODE = np.frombuffer("".join(TOKENS[i][0] if i < 5 else "-" for i in range(VOCAB_SIZE)).encode(), np.uint8)
# token -> complement token; specials map to themselves
COMPLEMENT = np.array([T, G, C, A, N, PAD, MASK, BOS], dtype=np.int64)


def encode(
    seq: str | bytes,
    *,
    source: str = "<sequence>",
    record: str | None = None,
    offset: int = 0,
    return_softmask: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Encode a DNA string to tokens.

    Args:
        seq: bases as str or ASCII bytes; lower case is soft-masked.
        source, record, offset: where `seq` came from, used only to name the position of a
            bad character in the error (offset is the 0-based position of `seq[0]`).
        return_softmask: also return a bool array, True where the input was lower case.

    Returns:
        tokens `[L]` uint8 (and softmask `[L]` bool if asked).

    Raises:
        AlphabetError: a character that is neither a base nor an IUPAC code.
    """
    raw = np.frombuffer(seq.encode("ascii", "replace") if isinstance(seq, str) else seq, np.uint8)
    tokens = _ENCODE[raw]
    if (tokens == _INVALID).any():
        i = int(np.flatnonzero(tokens == _INVALID)[0])
        where = f"{source}" + (f", record {record!r}" if record else "") + f", position {offset + i}"
        raise AlphabetError(f"invalid nucleotide {chr(raw[i])!r} at {where} (0-based)")
    return (tokens, _SOFTMASKED[raw]) if return_softmask else tokens


def decode(tokens: np.ndarray | list[int]) -> str:
    """Tokens `[L]` back to an upper-case string (specials as '-')."""
    return _DECODE[np.asarray(tokens, dtype=np.int64)].tobytes().decode()


def complement(tokens: np.ndarray) -> np.ndarray:
    """Complement token by token (specials unchanged); works on numpy arrays and torch tensors."""
    if isinstance(tokens, np.ndarray):
        return COMPLEMENT[tokens].astype(tokens.dtype)
    import torch

    return torch.as_tensor(COMPLEMENT, device=tokens.device)[tokens.long()].to(tokens.dtype)


# COMPLEMENT as a bytes.translate table: the fast path for 1-D uint8 token arrays (training windows)
_COMPLEMENT_BYTES = bytes(int(COMPLEMENT[i]) if i < len(COMPLEMENT) else i for i in range(256))


def reverse_complement(tokens: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis (numpy array or torch tensor)."""
    if isinstance(tokens, np.ndarray) and tokens.dtype == np.uint8 and tokens.ndim == 1:
        return np.frombuffer(tokens.tobytes().translate(_COMPLEMENT_BYTES)[::-1], np.uint8).copy()
    out = complement(tokens)
    if isinstance(out, np.ndarray):
        return np.ascontiguousarray(out[..., ::-1])
    return out.flip(-1)


def reverse_complement_str(seq: str) -> str:
    """Reverse complement of a DNA string, case kept, IUPAC codes complemented."""
    return seq.translate(_RC_TABLE)[::-1]


_RC_TABLE = str.maketrans("ACGTNRYSWKMBDHVUacgtnryswkmbdhvu", "TGCANYRSWMKVHDBAtgcanyrswmkvhdba")


_ALLELE_BASES = frozenset("ACGTNacgtn")


def is_sequence_allele(allele: str) -> bool:
    """True for a non-empty allele of A, C, G, T, N (any case): one that can be scored.

    Symbolic (`<DEL>`), breakend, `*` and missing (`.`) alleles are not sequence alleles.
    """
    return bool(allele) and set(allele) <= _ALLELE_BASES


def pad_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Token rows `[L_i]` right-padded with PAD into one int64 batch `[B, max L_i]`."""
    out = np.full((len(rows), max(len(r) for r in rows)), PAD, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
