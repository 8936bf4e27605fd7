"""Chinese or not: what the reply language, the retry requests and the retrieval weights follow."""

from ragkit.language import is_chinese


def test_han_characters_are_chinese_unless_kana_says_japanese() -> None:
    assert is_chinese("如何安装 dpkg 软件包？")
    assert is_chinese("apt-mark hold 的作用")
    assert not is_chinese("How do I hold a package with apt-mark?")
    assert not is_chinese("パッケージを保留する方法は？")  # kana: Japanese
    assert not is_chinese("日本語のパッケージ")
