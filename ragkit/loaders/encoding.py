"""Bytes to text for every text-based loader: UTF-8 first, then a guarded guess.

Detection alone is unreliable on short or ambiguous input: charset-normalizer
breaks ties alphabetically (cp1250 before cp1252, big5 before gb18030) and
happily reads a few accented Latin letters as Chinese. We keep its ranking, but
only over encodings documents are written in today, break ties towards the most
common of them, and reject readings that scatter CJK characters inside Latin
words.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

from charset_normalizer import from_bytes
from charset_normalizer.models import CharsetMatch

from ragkit.loaders.base import LoadError

logger = logging.getLogger(__name__)

_BOMS = (
    # UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# The encodings documents are written in today. Left to itself, charset-normalizer
# also weighs EBCDIC, Mac and DOS code pages (and BOM-less UTF-16), which win ties
# on short input: "Größe" comes back as EBCDIC, "über" as UTF-16.
_CANDIDATES = [
    *("gb18030", "gbk", "big5", "big5hkscs", "cp950", "shift_jis", "cp932", "euc_jp", "euc_kr", "cp949"),
    *("cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258"),
    *("latin_1", "iso8859_2", "iso8859_5", "iso8859_7", "iso8859_9", "iso8859_15", "koi8_r", "koi8_u", "cp866"),
    *("tis_620", "cp874"),
]

# Tie-break order: GB18030 is a superset of GBK/GB2312 and the most common
# legacy encoding for Chinese; cp1252 is what "Latin-1" files almost always are.
_PREFERRED = ("gb18030", "cp1252")

# Decode with the superset of a detected or declared encoding (keys are codecs'
# canonical names); as in browsers, "Latin-1" and ASCII labels mean cp1252.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "iso8859-1": "cp1252", "ascii": "cp1252"}

# Same thresholds charset-normalizer uses to call two matches equal.
_CHAOS_TIE = 0.005
_COHERENCE_TIE = 0.02

# Multi-byte UTF-8 characters needed per invalid byte sequence to call a file UTF-8.
_VALID_PER_INVALID_UTF8 = 10

# Control characters (other than whitespace) above this share mean "not text".
_MAX_CONTROL_RATIO = 0.05

# Enough text to judge a reading's plausibility without decoding a large file many times.
_SAMPLE_BYTES = 64 * 1024


def decode_text(data: bytes, source: str, declared: str | None = None) -> str:
    """Decode a text file, raising ``LoadError`` for empty or binary content.

    ``declared`` is an encoding the file names itself (an HTML meta charset). It
    is tried only when the bytes are not UTF-8 (valid UTF-8 with non-ASCII bytes
    is UTF-8, whatever the label says) and kept only if the bytes decode with it.
    Newlines come back as ``\\n`` so that chunkers' paragraph separators match
    CRLF files too.
    """
    if not data.strip():
        raise LoadError("empty file")
    text, encoding = _decode(data, declared)
    logger.debug("%s: decoded as %s", source, encoding)
    if not text.strip():
        raise LoadError("empty file")
    if _control_ratio(text) > _MAX_CONTROL_RATIO:
        raise LoadError("binary file, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes, declared: str | None) -> tuple[str, str]:
    """The text and the encoding it was read with."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise LoadError(f"invalid {encoding.upper()} text at byte {exc.start}") from None
    if b"\x00" in data:
        raise LoadError("binary file, not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    damaged_utf8 = _mostly_utf8(data)
    if damaged_utf8 is not None:
        return damaged_utf8, "utf-8 with invalid bytes replaced"
    if declared:
        try:
            encoding = _superset(declared)
            return data.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError):
            logger.debug("declared encoding %r does not decode the file; detecting", declared)
    match = _best_match(data)
    if match is not None:
        return _decode_match(data, match)
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"  # maps every byte, so it cannot fail


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few invalid bytes (a pasted Latin-1 character, a character cut at the end).

    Detection would call such a file binary; but many valid multi-byte sequences
    per invalid one happen in no other encoding (GBK text has under one per two).
    """
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    valid = sum(1 for char in text if ord(char) > 0x7F) - text.count("\ufffd")
    return text if valid >= _VALID_PER_INVALID_UTF8 * invalid else None


def _best_match(data: bytes) -> CharsetMatch | None:
    """charset-normalizer's best plausible reading, ties broken by ``_PREFERRED``.

    None means every reading it found scatters CJK inside Latin words, so the
    caller falls back to a Latin code page. No reading at all means binary.
    """
    ranked = list(from_bytes(data, cp_isolation=_CANDIDATES))
    if not ranked:
        raise LoadError("binary file, not text")
    best = ranked[0]
    tied = [
        m
        for m in ranked
        if abs(m.chaos - best.chaos) < _CHAOS_TIE and abs(m.coherence - best.coherence) <= _COHERENCE_TIE
    ]
    preferred = [m for name in _PREFERRED for m in tied if name in m.could_be_from_charset]
    sample = data[:_SAMPLE_BYTES]
    for match in [*preferred, *ranked]:
        if not _cjk_inside_latin_words(sample.decode(match.encoding, errors="ignore")):
            return match
    return None


def _decode_match(data: bytes, match: CharsetMatch) -> tuple[str, str]:
    """Decode with the preferred superset of the match's encoding, else with the match's own.

    charset-normalizer judges large files by samples, so a byte it never saw may
    still be invalid: that byte becomes U+FFFD rather than costing the file.
    """
    preferred = [p for p in _PREFERRED if p in match.could_be_from_charset]
    encoding = preferred[0] if preferred else _superset(match.encoding)
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        return data.decode(match.encoding, errors="replace"), match.encoding


def _superset(encoding: str) -> str:
    """The encoding to decode with for a named one (raises ``LookupError`` for unknown names)."""
    name = codecs.lookup(encoding).name
    return _SUPERSETS.get(name, name)


def _is_wide(char: str) -> bool:
    return not char.isascii() and unicodedata.east_asian_width(char) in ("W", "F", "H")


def _cjk_inside_latin_words(text: str) -> bool:
    """True for accented Latin misread as CJK.

    Real Chinese, Japanese or Korean text runs wide characters together; "Ça va
    très" read as Big5 leaves them single, inside or beside Latin words.
    """
    wide = isolated = glued = 0
    for index, char in enumerate(text):
        if not _is_wide(char):
            continue
        wide += 1
        neighbours = text[max(index - 1, 0) : index] + text[index + 1 : index + 2]
        isolated += not any(_is_wide(n) for n in neighbours)
        glued += any(n.isascii() and n.isalpha() for n in neighbours)
    return isolated * 2 > wide and glued > 0


# Unicode category Cc (U+0000-001F, U+007F-009F), whitespace aside: a regex, not a Python loop, for large files.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _control_ratio(text: str) -> float:
    return len(_CONTROL.findall(text)) / len(text)
