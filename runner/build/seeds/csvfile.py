"""What Weir reads of a seed's CSV itself: its header, its checksum and encoding, and where a record starts.

The rows are not parsed here on the way to the database: COPY reads them (runner.build.seeds.load)
from `Stream`, which checksums the bytes and checks they are UTF-8 as they pass, and an error
COPY reports is mapped back to the file's line and column (`physical_line`).
Only the header, a sample for inferring types (runner.build.seeds.infer) and, on an error, the
lines up to the failing record are parsed in Python.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from runner.errors import BadSeed
from runner.project.seeds import Seed

BLOCK = 1 << 20  # bytes per read and per COPY write: large blocks keep Python out of the way


def header(seed: Seed) -> tuple[str, ...]:
    """Return the column names of the CSV's first line, checked: present, unique, not blank.

    Raises BadSeed naming the file, line 1 and the column for an empty file, a blank or
    duplicate name.
    """
    with seed.path.open("rb") as file:
        first = file.readline(BLOCK)
    if not first.strip():
        raise BadSeed(f"{seed.display}:1:1: the file is empty; a seed's first line names its columns,"
                      " e.g. code,name")
    try:
        text = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        _not_utf8(seed, exc.start, exc.reason)
    names = next(csv.reader([text]), [])
    seen: dict[str, int] = {}
    for number, raw in enumerate(names, start=1):
        name = raw.strip()
        if not name:
            raise BadSeed(f"{seed.display}:1:{number}: column {number} has no name; name it in the header line")
        if name in seen:
            raise BadSeed(f"{seed.display}:1:{number}: column name {name!r} repeats column {seen[name]};"
                          " give each column its own name")
        seen[name] = number
    return tuple(raw.strip() for raw in names)


def stamp(seed: Seed) -> str:
    """Return the CSV's size and modification time and the types file's checksum: unchanged means the seed is.

    Only a shortcut past the checksum: a stamp that differs (a checkout, a touch) leads to
    the checksum, which decides.
    """
    status = seed.path.stat()
    return f"{status.st_size} {status.st_mtime_ns} {seed.types_checksum}"


class Stream:
    """The CSV's bytes in large blocks, as COPY takes them, hashed and checked to be UTF-8 on the way.

    One read of the file both loads and checksums it. A block that is not UTF-8 raises
    BadSeed naming the line and column (PostgreSQL would name only the line).
    """

    def __init__(self, seed: Seed) -> None:
        self.seed = seed
        self._digest = hashlib.sha256(seed.types_checksum.encode())

    def blocks(self) -> Iterator[bytes]:
        """Yield the file's blocks; raise BadSeed at the first byte that is not UTF-8."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        with self.seed.path.open("rb") as file:
            while block := file.read(BLOCK):
                self._digest.update(block)
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    _not_utf8(self.seed, _start_of(exc, offset, block), exc.reason)
                offset += len(block)
                yield block
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            _not_utf8(self.seed, offset - len(exc.object) + exc.start, exc.reason)

    @property
    def checksum(self) -> str:
        """The SHA-256 of the types file's checksum and the bytes read so far (all of them, after blocks())."""
        return self._digest.hexdigest()


@dataclass(frozen=True)
class Piece:
    """A run of whole records of the file, for one of several COPYs loading it side by side."""

    start: int  # byte offset of its first byte
    end: int  # and past its last
    first_line: int  # the file's line number of its first line (1: the header's piece)


def pieces(seed: Seed, count: int) -> tuple[str, list[Piece]]:
    """Read the file once: return its checksum and up to `count` pieces of about equal size, cut between records.

    A line break ends a record unless it is inside a quoted value, which is when an odd number
    of quote characters comes before it (a quote inside a value is written twice). Raises
    BadSeed at the first byte that is not UTF-8.
    """
    size = seed.path.stat().st_size
    targets = [size * number // count for number in range(1, count)]
    cuts: list[tuple[int, int]] = []  # (offset after a record's line break, lines before it)
    stream = Stream(seed)
    offset = quotes = lines = 0
    for block in stream.blocks():
        counted, quotes_so_far = 0, quotes
        while targets and targets[0] < offset + len(block):
            found = block.find(b"\n", max(targets[0] - offset, counted))
            if found < 0:
                break
            quotes_so_far += block.count(b'"', counted, found)
            counted = found
            if quotes_so_far % 2:
                targets[0] = offset + found + 1  # inside a quoted value: the next line break
                continue
            cut = offset + found + 1
            cuts.append((cut, lines + block.count(b"\n", 0, found + 1)))
            targets = [target for target in targets if target >= cut]
        quotes += block.count(b'"')
        lines += block.count(b"\n")
        offset += len(block)
    starts = [(0, 1), *((cut, before + 1) for cut, before in cuts if cut < size)]
    ends = [start for start, _ in starts[1:]] + [size]
    return stream.checksum, [Piece(start, end, line) for (start, line), end in zip(starts, ends, strict=True)]


def piece_blocks(seed: Seed, piece: Piece) -> Iterator[bytes]:
    """Yield the bytes of `piece` in large blocks."""
    with seed.path.open("rb") as file:
        file.seek(piece.start)
        left = piece.end - piece.start
        while left > 0 and (block := file.read(min(BLOCK, left))):
            left -= len(block)
            yield block


def _start_of(exc: UnicodeDecodeError, offset: int, block: bytes) -> int:
    """Return the file offset of a decoding error in `block` (read at `offset`), past bytes carried from before."""
    carried = len(exc.object) - len(block)
    return offset - carried + exc.start


def sample_rows(seed: Seed, limit: int) -> Iterator[list[str]]:
    """Yield up to `limit` data rows (after the header), parsed as COPY's CSV format reads them.

    Bytes that are not UTF-8 are replaced here: Stream reports them, at their line, when the seed loads.
    """
    with seed.path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        reader = csv.reader(file)
        next(reader, None)
        for number, row in enumerate(reader):
            if number >= limit:
                return
            yield row


def physical_line(seed: Seed, line: int) -> int:
    """Return the line where the record that COPY reports at `line` starts.

    COPY counts physical lines, and a record whose quoted value holds line breaks is
    reported at its last line; the user looks for where it begins.
    """
    with seed.path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        reader = csv.reader(file)
        ended = 0  # the line the previous record ended on
        for _ in reader:
            if reader.line_num >= line:
                return ended + 1
            ended = reader.line_num
    return line


def last_record(seed: Seed) -> tuple[int, int]:
    """Return the line where the file's last record starts and its number of values.

    An unclosed quote runs to the end of the file, so the record holding it is the last one.
    """
    with seed.path.open(encoding="utf-8-sig", errors="replace", newline="") as file:
        reader = csv.reader(file)
        ended, start, width = 0, 1, 1
        for row in reader:
            start, width, ended = ended + 1, len(row), reader.line_num
    return start, width


def _not_utf8(seed: Seed, offset: int, reason: str) -> NoReturn:
    with seed.path.open("rb") as file:
        before = file.read(offset)
        line_start = before.rfind(b"\n") + 1
        line = before[line_start:] + file.readline(BLOCK)
    number = before.count(b"\n") + 1
    raise BadSeed(
        f"{seed.display}:{number}:{_field_at(line, offset - line_start)}: not UTF-8 ({reason} at byte {offset});"
        " save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
    )


def _field_at(line: bytes, offset: int) -> int:
    """Return the CSV column (from 1) that byte `offset` of `line` falls in."""
    text = line[:offset].decode("utf-8", errors="replace")
    fields = next(csv.reader(io.StringIO(text + "x")), [""])
    return max(len(fields), 1)
