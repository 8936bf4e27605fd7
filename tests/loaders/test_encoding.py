"""decode_text: UTF-8 first, then detection that gets Chinese and Latin files right."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from ragkit.loaders.base import LoadError
from ragkit.loaders.encoding import decode_text

CHINESE = [
    "检索增强生成是一种把信息检索和文本生成结合起来的方法。模型在回答问题之前，先从文档库中找出相关的段落，再把这些段落作为上下文交给语言模型。",
    "向量数据库保存文本块的嵌入向量，查询时按照余弦相似度返回最相近的若干段落。分块的大小会影响检索的效果：块太大，无关内容会稀释语义；块太小，上下文又会丢失。",
    "第一章 总则\n\n第一条 为了规范文档管理工作，提高工作效率，制定本办法。\n第二条 本办法适用于公司所有部门。",
    "本文介绍如何使用 Python 编写一个简单的检索系统，包括 PDF、HTML 和 Markdown 文件的读取。",
    "量化可以把模型的权重从 16 位浮点数压缩到 4 位整数，从而减少显存占用，但可能带来少量的精度损失。",
    "长城是中国古代的军事防御工程，东起山海关，西至嘉峪关，全长六千多公里。它修建于春秋战国时期，历经秦、汉、明等朝代的扩建和修缮。",
    "《红楼梦》是中国古典四大名著之一，作者曹雪芹。小说以贾、史、王、薛四大家族的兴衰为背景，描写了贾宝玉和林黛玉的爱情悲剧。",
    "键值缓存（KV cache）保存了注意力层已经计算过的键和值，生成新词元时不必重新计算，因此能显著加快推理速度。",
    "注意：本文件使用 GBK 编码。",
]
# Too short for statistics: charset-normalizer ranks Big5 or CP949 first and ties GB18030.
SHORT_CHINESE = [
    "中文",
    "你好，世界",
    "机器学习",
    "模型",
    "使用 Python 的 RAG 库",
    "在Python中使用GBK编码",
    "用 Python 写",
]
LATIN_1 = [
    "Ça va très bien, merci.",
    "Les élèves étudient à l'école. Où est la bibliothèque ? Ça dépend.",
    "Der Bär läuft über die Brücke und frißt Äpfel.",
    "El niño comió piñata en la mañana; ¿qué más?",
    "Smørrebrød og æblekage på Østerbro.",
    "Größe",
    "naïve résumé",
    "über",
    "Noël",
    "São Paulo é ótimo.",
]


@pytest.mark.parametrize("text", CHINESE)
@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_chinese_paragraphs_in_gbk_and_gb18030(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), "zh.txt") == text


@pytest.mark.parametrize("text", SHORT_CHINESE)
def test_short_gbk_strings_prefer_gb18030_over_other_cjk_readings(text: str) -> None:
    assert decode_text(text.encode("gbk"), "zh.txt") == text


def test_gb18030_four_byte_characters() -> None:
    text = "GB18030 四字节字符：𠀀𪚥，以及欧元符号€。这是一段测试文字。"
    assert decode_text(text.encode("gb18030"), "zh.txt") == text


def test_long_gbk_file() -> None:
    text = "\n\n".join(CHINESE) * 500
    assert decode_text(text.encode("gbk"), "zh.txt") == text


@pytest.mark.parametrize("text", LATIN_1)
def test_latin_1_text_is_not_read_as_cjk(text: str) -> None:
    assert decode_text(text.encode("latin-1"), "fr.txt") == text


def test_shared_latin_1_file(badinputs: Path) -> None:
    text = decode_text((badinputs / "synthetic_latin1.txt").read_bytes(), "synthetic_latin1.txt")
    assert text.startswith("Café crème brûlée: latin-1")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Le cœur a ses raisons que la raison ne connaît point. Ça coûte 5 € — “vraiment”.", "cp1252"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy. Zażółć gęślą jaźń.", "cp1250"),
        ("Привет, мир! Это текст в кодировке Windows-1251 о генерации с дополненной выборкой.", "cp1251"),
        ("한국어 텍스트는 EUC-KR로 인코딩되었습니다. 검색 증강 생성은 정보 검색과 텍스트 생성을 결합합니다.", "euc-kr"),
        (
            "日本語のテキストはシフトJISでエンコードされています。検索拡張生成は情報検索とテキスト生成を組み合わせます。",
            "shift_jis",
        ),
        ("繁體中文使用大五碼編碼。檢索增強生成是一種把資訊檢索和文字生成結合起來的方法。", "big5"),
        (
            "Привет, мир! Это текст в кодировке KOI8-R о генерации с дополненной выборкой. "
            "Модель сначала находит нужные документы, а потом отвечает на вопрос.",
            "koi8_r",
        ),
        (
            "ภาษาไทยเป็นภาษาราชการของประเทศไทย ระบบค้นหาเอกสารจะค้นหาข้อความที่เกี่ยวข้องก่อน แล้วจึงให้โมเดลภาษาตอบคำถาม",
            "tis_620",
        ),
        (
            "Türkçe metin örneği: Bilgi erişim sistemleri önce ilgili belgeleri bulur, sonra dil modeli soruyu "
            "yanıtlar. Şu an çalışıyor.",
            "cp1254",
        ),
    ],
)
def test_other_legacy_encodings_are_not_hijacked_by_the_preferences(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), "doc.txt") == text


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_byte_order_marks(encoding: str) -> None:
    text = "héllo wörld 中文"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert decode_text(data, "bom.txt") == text


def test_utf8_wins_over_detection_and_newlines_are_normalised() -> None:
    assert decode_text("naïve\r\ncafé\rend".encode(), "a.txt") == "naïve\ncafé\nend"


def test_utf8_with_a_few_invalid_bytes_stays_utf8() -> None:
    chinese = "\n".join(CHINESE)
    stray = chinese.encode() + "café".encode("latin-1")  # a Latin-1 character pasted in
    assert decode_text(stray, "a.txt") == chinese + "caf\ufffd"
    cut = chinese.encode()[:-2]  # the last character cut in half
    assert decode_text(cut, "a.txt") == chinese[:-1] + "\ufffd"


def test_one_latin_1_byte_in_english_text() -> None:
    assert decode_text(b"hello world\n" * 100 + b"caf\xe9", "a.txt").endswith("café")


def test_declared_encoding_is_used_for_non_utf8_bytes() -> None:
    # Too short to detect reliably; the declaration settles it.
    assert decode_text("Ölçek".encode("cp1254"), "a.html", declared="windows-1254") == "Ölçek"


def test_declared_encoding_is_ignored_when_bytes_are_utf8_or_do_not_decode() -> None:
    assert decode_text("中文 text".encode(), "a.html", declared="iso-8859-1") == "中文 text"
    gbk = CHINESE[0].encode("gbk")
    assert decode_text(gbk, "a.html", declared="no-such-codec") == CHINESE[0]
    assert decode_text(gbk, "a.html", declared="shift_jis") == CHINESE[0]


def _random_bytes(values: range, size: int) -> bytes:
    rng = random.Random(size)
    return bytes(rng.choice(values) for _ in range(size))


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        _random_bytes(range(1, 256), 4096),  # no NULs, still binary
        _random_bytes(range(1, 32), 2000),  # ASCII control characters
        b"text with a NUL\x00 in the middle",
    ],
    ids=["png", "random", "controls", "nul"],
)
def test_binary_content_is_rejected(data: bytes) -> None:
    with pytest.raises(LoadError, match="binary"):
        decode_text(data, "blob.txt")


def test_binary_file_on_disk_is_rejected() -> None:
    with pytest.raises(LoadError, match="binary"):
        decode_text(Path("/bin/sh").resolve().read_bytes(), "sh.txt")


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n ", codecs.BOM_UTF8, codecs.BOM_UTF8 + b" \n"])
def test_empty_and_whitespace_only(data: bytes) -> None:
    with pytest.raises(LoadError, match="empty file"):
        decode_text(data, "empty.txt")
