"""walk and compile_glob: which files a folder ingest reads, in which order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragkit.loaders.walker import compile_glob, walk
from ragkit.types import Skipped

ALL = ["**/*"]


def _tree(root: Path, *files: str) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return root


def _sources(root: Path, include: list[str] = ALL, exclude: tuple[str, ...] = (), **kwargs: bool) -> list[str]:
    return [source for _, source in walk(root, include, list(exclude), **kwargs)]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*", "a", True),
        ("**/*", "a/b/c.md", True),
        ("*.md", "a.md", True),
        ("*.md", "x/a.md", False),
        ("**/*.md", "a.md", True),
        ("**/*.md", "x/y/a.md", True),
        ("**/*.md", "x/y/a.mdx", False),
        ("a/**", "a", True),
        ("a/**", "a/b/c", True),
        ("a/**", "ab/c", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("a/**/**", "a/b", True),
        ("**", "x/y", True),
        ("**/node_modules", "node_modules", True),
        ("**/node_modules", "x/node_modules", True),
        ("docs/*.md", "docs/a.md", True),
        ("docs/*.md", "docs/sub/a.md", False),
        ("/docs/", "docs", True),
        ("a**b", "axxb", True),
        ("a**b", "ax/xb", False),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("[ab].txt", "b.txt", True),
        ("[!ab].txt", "c.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("[!ab]", "/", False),
        ("[]].txt", "].txt", True),
        ("[!]].txt", "].txt", False),
        ("[a-c]*", "bx", True),
        ("[a-c]*", "b/x", False),
        ("[.txt", "[.txt", True),
        ("a+b(c).md", "a+b(c).md", True),
        ("*.PDF", "x.pdf", False),
    ],
)
def test_compile_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(pattern).fullmatch(path)) is matches


def test_sorted_recursive_relative_sources_and_absolute_paths(tmp_path: Path) -> None:
    root = _tree(tmp_path / "docs", "b.txt", "a/z.md", "a/b/c.pdf", "A.txt", "c.html")
    results = list(walk(root, ALL, []))
    assert [source for _, source in results] == ["A.txt", "a/b/c.pdf", "a/z.md", "b.txt", "c.html"]
    for path, source in results:
        assert path.is_absolute()
        assert path == root / source
    assert _sources(root) == _sources(root)  # deterministic


def test_relative_root_gives_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path / "docs", "x.txt")
    monkeypatch.chdir(tmp_path)
    [(path, source)] = walk(Path("docs"), ALL, [])
    assert path == tmp_path / "docs" / "x.txt"
    assert source == "x.txt"


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    root = _tree(tmp_path, "keep.md", ".hidden.md", ".git/config.txt", "sub/.env", "sub/ok.txt", "sub/.cache/x.txt")
    assert _sources(root) == ["keep.md", "sub/ok.txt"]


def test_include_and_exclude(tmp_path: Path) -> None:
    root = _tree(
        tmp_path, "a.md", "a.txt", "guides/b.md", "guides/drafts/c.md", "node_modules/d.md", "x/node_modules/e.md"
    )
    assert _sources(root, ["**/*.md"]) == [
        "a.md",
        "guides/b.md",
        "guides/drafts/c.md",
        "node_modules/d.md",
        "x/node_modules/e.md",
    ]
    assert _sources(root, ["*.md"]) == ["a.md"]
    assert _sources(root, ["**/*.md", "*.txt"], ("**/node_modules", "guides/drafts/**")) == [
        "a.md",
        "a.txt",
        "guides/b.md",
    ]
    assert _sources(root, ["**/*"], ("**/*.md",)) == ["a.txt"]


def test_root_that_is_a_file(tmp_path: Path) -> None:
    path = _tree(tmp_path, "sub/only.pdf") / "sub" / "only.pdf"
    assert list(walk(path, ["**/*.md"], ["**/*"])) == [(path, "only.pdf")]


def test_missing_root_fails_at_call_time(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no such file or folder: .*missing"):
        walk(tmp_path / "missing", ALL, [])


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """A tree with file links (outside and inside), a folder link, a loop back to the root, a dangling link
    and a link loop that never reaches a file."""
    root = _tree(tmp_path / "root", "real/a.txt", "top.txt")
    outside = _tree(tmp_path / "outside", "o.txt")
    (root / "file-link.txt").symlink_to(outside / "o.txt")
    (root / "inside-link.txt").symlink_to("top.txt")
    (root / "dir-link").symlink_to(outside, target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (root / "ping.txt").symlink_to("pong.txt")
    (root / "pong.txt").symlink_to("ping.txt")
    return root


def _skipped(root: Path, **kwargs: bool) -> tuple[list[str], dict[str, str]]:
    skipped: list[Skipped] = []
    sources = [source for _, source in walk(root, ALL, [], skipped=skipped, **kwargs)]
    return sources, {link.path: link.reason for link in skipped}


NOT_FOLLOWED = "; not followed (loading.follow_symlinks is false)"


def test_symlinks_are_not_followed_by_default_and_each_is_reported(linked: Path, tmp_path: Path) -> None:
    sources, skipped = _skipped(linked)
    assert sources == ["real/a.txt", "top.txt"]
    assert skipped == {
        "dangling.txt": f"broken symbolic link (its target {tmp_path / 'nowhere.txt'} does not exist)",
        "dir-link": f"symbolic link to {tmp_path / 'outside'}, outside the ingested folder{NOT_FOLLOWED}",
        "file-link.txt": f"symbolic link to {tmp_path / 'outside' / 'o.txt'}, outside the ingested folder{NOT_FOLLOWED}",
        "inside-link.txt": f"symbolic link to top.txt{NOT_FOLLOWED}",
        "ping.txt": "symbolic link loop (to pong.txt, which leads back to it)",
        "pong.txt": "symbolic link loop (to ping.txt, which leads back to it)",
        "real/loop": f"symbolic link to {linked}, a folder that contains it (a loop){NOT_FOLLOWED}",
    }
    assert _sources(linked) == sources  # reporting is optional


def test_followed_symlinks_terminate_on_loops(linked: Path, tmp_path: Path) -> None:
    sources, skipped = _skipped(linked, follow_symlinks=True)
    assert sources == ["dir-link/o.txt", "file-link.txt", "inside-link.txt", "real/a.txt", "top.txt"]
    assert skipped == {
        "dangling.txt": f"broken symbolic link (its target {tmp_path / 'nowhere.txt'} does not exist)",
        "ping.txt": "symbolic link loop (to pong.txt, which leads back to it)",
        "pong.txt": "symbolic link loop (to ping.txt, which leads back to it)",
        "real/loop": f"symbolic link to {linked}, a folder already walked",
    }


def test_links_the_globs_leave_out_are_not_reported(linked: Path) -> None:
    skipped: list[Skipped] = []
    assert [source for _, source in walk(linked, ["**/*.md"], ["real/**", "dir-link"], skipped=skipped)] == []
    assert skipped == []


def test_special_files_are_not_yielded(tmp_path: Path) -> None:
    root = _tree(tmp_path, "a.txt")
    os.mkfifo(root / "pipe.txt")  # reading it would block the ingest forever
    assert _sources(root) == ["a.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder_is_skipped(tmp_path: Path) -> None:
    root = _tree(tmp_path, "a.txt", "locked/b.txt")
    (root / "locked").chmod(0)
    try:
        assert _sources(root) == ["a.txt"]
    finally:
        (root / "locked").chmod(0o755)


def test_names_that_are_not_utf8_become_escaped_text(tmp_path: Path) -> None:
    (Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.txt"))).write_text("bytes")
    (tmp_path / "café.txt").write_text("utf-8")
    found = {source: path for path, source in walk(tmp_path, ALL, [])}
    assert set(found) == {"caf\\xe9.txt", "café.txt"}
    assert found["caf\\xe9.txt"].read_text() == "bytes"  # the path still names the real file
    assert all(source.encode("utf-8") for source in found)


def test_fifos_sockets_and_devices_are_listed_as_skipped_and_never_opened(tmp_path: Path) -> None:
    import socket

    root = _tree(tmp_path / "docs", "a.md", "sub/b.md")
    os.mkfifo(root / "pipe.txt")  # no writer: opening it for reading would block forever
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "sub" / "sock.md"))
    (root / "zero.txt").symlink_to("/dev/zero")
    try:
        skipped: list[Skipped] = []
        files = list(walk(root, ALL, [], follow_symlinks=True, skipped=skipped))
        assert [source for _, source in files] == ["a.md", "sub/b.md"]
        assert skipped == [
            Skipped("pipe.txt", "a FIFO (named pipe), not a regular file: never opened"),
            Skipped("sub/sock.md", "a socket, not a regular file: never opened"),
            Skipped("zero.txt", "symbolic link to a character device, not a regular file: never opened"),
        ]
        named: list[Skipped] = []
        assert list(walk(root / "pipe.txt", ALL, [], skipped=named)) == []  # named directly: skipped too
        assert named == [Skipped("pipe.txt", "a FIFO (named pipe), not a regular file: never opened")]
    finally:
        listener.close()
