"""Exceptions raised by genomamba. Every one names the file, record and position it is about."""

from __future__ import annotations


class GenomambaError(Exception):
    """Base class of every error genomamba raises on purpose."""


class AlphabetError(GenomambaError, ValueError):
    """A character that is not a nucleotide or IUPAC ambiguity code."""


class FastaError(GenomambaError):
    """A FASTA file that cannot be read: malformed, missing or unindexable."""


class FastaFormatError(FastaError):
    """Malformed FASTA content (names the file and the 1-based line)."""


class FastaNoHeaderError(FastaFormatError):
    """Sequence data before the first `>` header line."""


class FastaEmptyRecordError(FastaFormatError):
    """A record with a header and no sequence."""


class FastaDuplicateRecordError(FastaFormatError):
    """Two records with the same name in one file (or across the files of one genome set)."""


class FastaLineLengthError(FastaFormatError):
    """Lines of one record that differ in length (other than the last), so it cannot be indexed."""


class FastaCorruptError(FastaError):
    """A compressed FASTA file that is truncated or corrupt (names the file)."""


class FastaFetchError(FastaError, IndexError):
    """A fetch outside a record's bounds or of an unknown record."""


class ConfigError(GenomambaError, ValueError):
    """An invalid configuration value (names the key)."""


class VcfError(GenomambaError):
    """A VCF or TSV variant file that cannot be parsed (names the file and line)."""


class RefAlleleMismatch(GenomambaError):
    """A variant whose REF allele disagrees with the reference FASTA."""


class CheckpointError(GenomambaError):
    """A training checkpoint that is missing, empty, truncated, remote or not weights-only."""


class OutputError(GenomambaError):
    """An output file cannot be written where asked (permissions, a read-only folder)."""
