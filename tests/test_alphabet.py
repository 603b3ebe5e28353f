import numpy as np
import pytest
import torch

from genomamba import alphabet
from genomamba.errors import AlphabetError


def test_encode_bases_softmask_and_iupac():
    tokens, soft = alphabet.encode("ACGTNacgtnRYKMSWBDHVU", return_softmask=True)
    assert tokens.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4] + [4] * 10 + [3]
    assert soft.tolist() == [False] * 5 + [True] * 5 + [False] * 11
    assert alphabet.decode(tokens) == "ACGTNACGTN" + "N" * 10 + "T"


def test_invalid_character_names_file_record_and_position():
    with pytest.raises(AlphabetError, match=r"'X'.*genome\.fa.*'chr7'.*position 103"):
        alphabet.encode("ACGX", source="genome.fa", record="chr7", offset=100)


@pytest.mark.parametrize("seed", range(5))
def test_reverse_complement_round_trips(seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 5, size=int(rng.integers(1, 300))).astype(np.uint8)
    rc = alphabet.reverse_complement(tokens)
    assert np.array_equal(alphabet.reverse_complement(rc), tokens)
    assert alphabet.decode(rc) == alphabet.reverse_complement_str(alphabet.decode(tokens))
    t = torch.from_numpy(tokens.astype(np.int64))
    assert torch.equal(alphabet.reverse_complement(t), torch.from_numpy(rc.astype(np.int64)))


def test_complement_pairs_and_specials():
    assert alphabet.decode(alphabet.complement(alphabet.encode("ACGTN"))) == "TGCAN"
    specials = np.array([alphabet.PAD, alphabet.MASK, alphabet.BOS])
    assert np.array_equal(alphabet.complement(specials), specials)
    assert alphabet.reverse_complement_str("AcgTNr") == "yNAcgT"
