"""Read the files staff keep in the knowledge base into KnowledgeEntry values, or say plainly why a file is broken."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node

from bot.domain.errors import AssistantError
from bot.domain.knowledge import EntryKind, KnowledgeEntry, Section
from bot.tables import (
    Deadline,
    TableFileError,
    check_package,
    csv_rows,
    first_line,
    unreadable_reason,
    xlsx_rows,
)

SUPPORTED_SUFFIXES = (".md", ".markdown", ".csv", ".xlsx", ".docx", ".pdf", ".txt")
FRONT_MATTER_REQUIRED = ("id", "title", "category", "source", "updated")
FAQ_REQUIRED = ("id", "question", "similar_questions", "answer", "category", "source")
FAQ_OPTIONAL = ("updated", "community")
# Staff often keep FAQ sheets with Chinese headers; both spellings are accepted.
FAQ_HEADER_ALIASES = {
    "编号": "id",
    "问题": "question",
    "标准问题": "question",
    "相似问题": "similar_questions",
    "相似问法": "similar_questions",
    "答案": "answer",
    "回答": "answer",
    "分类": "category",
    "类别": "category",
    "来源": "source",
    "更新日期": "updated",
    "更新时间": "updated",
    "社区": "community",
}
SIMILAR_SEPARATOR = "|"
FRONT_MATTER_MAX_CHARS = 4_000
FRONT_MATTER_FIELD_MAX_CHARS = 500


class KnowledgeFileError(AssistantError):
    """A knowledge file that cannot be read; the message is a reason staff can act on, in Chinese."""


def is_knowledge_file(path: Path) -> bool:
    """Whether ingestion reads this file (supported type, not hidden, not a `_`-prefixed helper file)."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith((".", "_", "~$"))


def load_knowledge_file(path: Path, relative: str) -> list[KnowledgeEntry]:
    """Parse one file into entries; raise KnowledgeFileError with a specific reason when it is broken.

    Every way a file can fail to parse (a reader library's error at open time or while reading, a bound exceeded)
    ends here as KnowledgeFileError, so ingestion, the console's pages and uploads treat a broken file alike.
    """
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KnowledgeFileError(f"无法读取文件：{exc.strerror or type(exc).__name__}") from None
    if not data.strip():
        raise KnowledgeFileError("文件是空的")
    reader = _READERS.get(suffix)
    if reader is None:
        raise KnowledgeFileError(f"不支持的文件类型 {suffix}")
    try:
        entries = reader(data, relative, Deadline())
    except KnowledgeFileError:
        raise
    except TableFileError as exc:  # a bound or the deadline (bot.tables) refused the file
        raise KnowledgeFileError(str(exc)) from None
    except Exception as exc:  # whatever a reader library raises on a damaged file is that file's problem
        raise KnowledgeFileError(unreadable_reason(suffix, exc)) from None
    if not entries:
        raise KnowledgeFileError("文件里没有可用的内容")
    return entries


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM); refuse other encodings with a reason staff can fix."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            raise KnowledgeFileError(f"文件不是 UTF-8 编码（第 {exc.start} 字节无法识别），请另存为 UTF-8") from None
        raise KnowledgeFileError("文件是 GBK/GB18030 编码，不是 UTF-8；请用“另存为 → UTF-8”重新保存") from None


# ---------------------------------------------------------------- Markdown guides


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without aliases: front matter is a few plain fields, and aliases of anchors are how a few hundred
    bytes expand into gigabytes ("billion laughs")."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        """Compose as SafeLoader does, refusing an alias (*name) before it is followed."""
        if self.check_event(yaml.AliasEvent):
            raise KnowledgeFileError("front matter 不能使用 YAML 锚点或别名（& 和 *），请直接写出每个字段的值")
        return super().compose_node(parent, index)


def _read_markdown(data: bytes, relative: str, deadline: Deadline) -> list[KnowledgeEntry]:
    text = decode_text(data).replace("\r\n", "\n")
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end < 0:
            raise KnowledgeFileError("front matter 没有结束的 --- 行")
        if end - 4 > FRONT_MATTER_MAX_CHARS:
            raise KnowledgeFileError(f"front matter 太长（最多 {FRONT_MATTER_MAX_CHARS} 字）")
        try:
            loaded = yaml.load(text[4:end], Loader=_FrontMatterLoader)  # a SafeLoader that refuses aliases
        except yaml.YAMLError as exc:
            raise KnowledgeFileError(f"front matter 不是合法的 YAML：{first_line(str(exc))}") from None
        if not isinstance(loaded, dict):
            raise KnowledgeFileError("front matter 应为“字段: 值”的形式")
        meta = {str(k): v for k, v in loaded.items()}
        for name, value in meta.items():
            if len(_clean(value)) > FRONT_MATTER_FIELD_MAX_CHARS:
                raise KnowledgeFileError(f"front matter 的 {name} 太长（最多 {FRONT_MATTER_FIELD_MAX_CHARS} 字）")
        missing = [name for name in FRONT_MATTER_REQUIRED if not _clean(meta.get(name))]
        if missing:
            raise KnowledgeFileError(f"front matter 缺少字段：{'、'.join(missing)}")
        body = text[end + 4 :].split("\n", 1)[1] if "\n" in text[end + 4 :] else ""
    title, sections = _markdown_sections(body)
    if not sections:
        raise KnowledgeFileError("正文是空的")
    return [
        KnowledgeEntry(
            id=_clean(meta.get("id")) or relative,
            kind=EntryKind.GUIDE if meta else EntryKind.DOCUMENT,
            title=_clean(meta.get("title")) or title or Path(relative).stem,
            category=_clean(meta.get("category")),
            source=_clean(meta.get("source")) or relative,
            updated=_clean(meta.get("updated")),
            community=_clean(meta.get("community")),
            file=relative,
            sections=tuple(sections),
        )
    ]


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _markdown_sections(body: str) -> tuple[str, list[Section]]:
    """Split Markdown by headings; a leading level-1 heading is the title, deeper headings nest as 'A / B'."""
    title = ""
    path: list[tuple[int, str]] = []
    sections: list[Section] = []
    lines: list[str] = []

    def flush() -> None:
        text = _plain_markdown("\n".join(lines))
        if text:
            sections.append(Section(heading=" / ".join(h for _, h in path), text=text))
        lines.clear()

    for line in body.split("\n"):
        match = _HEADING.match(line)
        if not match:
            lines.append(line)
            continue
        level, heading = len(match.group(1)), _plain_markdown(match.group(2))
        if level == 1 and not title and not sections and not "".join(lines).strip():
            title = heading
            continue
        flush()
        path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
    flush()
    return title, sections


_MD_INLINE = re.compile(r"(\*\*|__|`|~~)")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _plain_markdown(text: str) -> str:
    """Reduce Markdown to the plain text residents read in WeChat."""
    out = []
    for line in text.split("\n"):
        line = _MD_LINK.sub(r"\1", line)
        line = _MD_INLINE.sub("", line)
        line = _MD_LIST.sub("", line).strip()
        if line.startswith(">"):
            line = line.lstrip("> ").strip()
        if line:
            out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------- FAQ tables


def _read_csv(data: bytes, relative: str, deadline: Deadline) -> list[KnowledgeEntry]:
    return _faq_entries(csv_rows(decode_text(data), deadline), relative)


def _read_xlsx(data: bytes, relative: str, deadline: Deadline) -> list[KnowledgeEntry]:
    return _faq_entries(xlsx_rows(data, deadline), relative)


def faq_columns(header_row: list[str]) -> list[str]:
    """A FAQ table's header row as column names (Chinese headers mapped, case and spaces ignored)."""
    return [FAQ_HEADER_ALIASES.get(cell.strip(), cell.strip().lower()) for cell in header_row]


def write_knowledge_file(path: Path, data: bytes) -> None:
    """Write a knowledge file whole or not at all: a crash mid-write leaves the previous version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.writing")  # hidden: ingestion never reads it
    staging.write_bytes(data)
    staging.replace(path)


def _faq_entries(rows: list[list[str]], relative: str) -> list[KnowledgeEntry]:
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise KnowledgeFileError("表格是空的")
    header = faq_columns(rows[0])
    missing = [name for name in FAQ_REQUIRED if name not in header]
    if missing:
        raise KnowledgeFileError(f"FAQ 表缺少列：{'、'.join(missing)}（第一行应为 {','.join(FAQ_REQUIRED)}）")
    column = {name: header.index(name) for name in (*FAQ_REQUIRED, *FAQ_OPTIONAL) if name in header}
    entries: list[KnowledgeEntry] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):

        def cell(name: str, row: list[str] = row) -> str:
            index = column.get(name)
            return _clean(row[index]) if index is not None and index < len(row) else ""

        entry_id, question, answer = cell("id"), cell("question"), cell("answer")
        for name, value in (("id", entry_id), ("question", question), ("answer", answer)):
            if not value:
                raise KnowledgeFileError(f"第 {number} 行的 {name} 为空")
        if entry_id in first_row:
            raise KnowledgeFileError(f"FAQ 编号 {entry_id} 在第 {first_row[entry_id]} 行和第 {number} 行重复")
        first_row[entry_id] = number
        similar = [q.strip() for q in cell("similar_questions").split(SIMILAR_SEPARATOR) if q.strip()]
        questions = tuple(dict.fromkeys([question, *similar]))
        entries.append(
            KnowledgeEntry(
                id=entry_id,
                kind=EntryKind.FAQ,
                title=question,
                category=cell("category"),
                source=cell("source") or relative,
                updated=cell("updated"),
                community=cell("community"),
                file=relative,
                questions=questions,
                answer=answer,
            )
        )
    if not entries:
        raise KnowledgeFileError("FAQ 表只有表头，没有条目")
    return entries


# ---------------------------------------------------------------- DOCX, PDF, TXT documents


def _read_docx(data: bytes, relative: str, deadline: Deadline) -> list[KnowledgeEntry]:
    import docx

    check_package(data)
    document = docx.Document(io.BytesIO(data))
    title = _clean(document.core_properties.title)
    blocks: list[tuple[str, str]] = []
    for paragraph in document.paragraphs:
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        blocks.append((style, paragraph.text))
    for table in document.tables:
        for row in table.rows:
            blocks.append(("", " ".join(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))))
    sections: list[Section] = []
    heading, lines = "", list[str]()
    deadline.check()
    for style, text in blocks:
        text = text.strip()
        if not text:
            continue
        if style == "Title" or style == "标题":
            title = title or text
        elif style.startswith(("Heading", "标题")):
            if lines:
                sections.append(Section(heading, "\n".join(lines)))
            heading, lines = text, []
        else:
            lines.append(text)
    if lines:
        sections.append(Section(heading, "\n".join(lines)))
    if not sections:
        raise KnowledgeFileError("Word 文档里没有文字")
    return [_document(relative, title, sections)]


def _read_pdf(data: bytes, relative: str, deadline: Deadline) -> list[KnowledgeEntry]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise KnowledgeFileError("PDF 已加密，请提供未加密的版本")
    pages: list[tuple[int, str]] = []
    for number, page in enumerate(reader.pages, start=1):
        deadline.check()
        pages.append((number, page.extract_text() or ""))
    title = _clean(reader.metadata.get("/Title") if reader.metadata else None)
    sections = [Section(f"第{number}页", _join_pdf_lines(text)) for number, text in pages if text.strip()]
    if not sections:
        raise KnowledgeFileError("PDF 里没有可提取的文字（可能是扫描件），请提供文字版")
    return [_document(relative, title, sections)]


def _join_pdf_lines(text: str) -> str:
    """PDF extraction breaks lines mid-sentence; rejoin lines that do not end a sentence."""
    out: list[str] = []
    for line in (part.strip() for part in text.splitlines()):
        if not line:
            continue
        if out and not out[-1].endswith(("。", "！", "？", "；", "：", ".", "!", "?")):
            out[-1] += line
        else:
            out.append(line)
    return "\n".join(out)


def _read_txt(data: bytes, relative: str, deadline: Deadline) -> list[KnowledgeEntry]:
    text = decode_text(data).replace("\r\n", "\n").strip()
    lines = text.split("\n")
    title = ""
    if len(lines) > 1 and len(lines[0].strip()) <= 40:
        title, text = lines[0].strip(), "\n".join(lines[1:]).strip()
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        raise KnowledgeFileError("文件里没有正文")
    return [_document(relative, title, [Section("", p) for p in paragraphs])]


def _document(relative: str, title: str, sections: Iterable[Section]) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=relative,
        kind=EntryKind.DOCUMENT,
        title=title or Path(relative).stem,
        category="",
        source=relative,
        updated="",
        file=relative,
        sections=tuple(sections),
    )


# ---------------------------------------------------------------- helpers

_READERS: dict[str, Callable[[bytes, str, Deadline], list[KnowledgeEntry]]] = {
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".csv": _read_csv,
    ".xlsx": _read_xlsx,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
    ".txt": _read_txt,
}


def _clean(value: object) -> str:
    return "" if value is None else str(value).strip()


def iter_knowledge_files(root: Path) -> Iterator[Path]:
    """Every file ingestion reads below root, in a stable order."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and is_knowledge_file(path) and not any(p.startswith((".", "_")) for p in path.parts[-2:-1]):
            yield path


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One knowledge file as parsed now: its entries, or the reason it cannot be read."""

    path: Path
    relative: str
    entries: tuple[KnowledgeEntry, ...]
    problem: str


def load_knowledge_base(root: Path, *, suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES) -> list[LoadedFile]:
    """Parse every knowledge file below root (only those with the given suffixes), keeping each file's problem."""
    loaded: list[LoadedFile] = []
    for path in iter_knowledge_files(root):
        if path.suffix.lower() not in suffixes:
            continue
        relative = path.relative_to(root).as_posix()
        try:
            loaded.append(LoadedFile(path, relative, tuple(load_knowledge_file(path, relative)), ""))
        except KnowledgeFileError as exc:
            loaded.append(LoadedFile(path, relative, (), str(exc) or "无法读取"))
    return loaded
