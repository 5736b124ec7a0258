"""Go's text/tabwriter as kubectl configures it (minwidth 6, padding 3, pad ' ', RememberWidths).

Cells end at a tab; the text after a line's last tab is not part of any column (so the last
column is never padded). A column block is a run of consecutive lines that have a cell in that
column; each block is as wide as its widest cell plus the padding. With RememberWidths, widths
only grow between flushes, as they do in `kubectl get -w`.
"""

from __future__ import annotations

MIN_WIDTH = 6
PADDING = 3


class TabWriter:
    def __init__(self, min_width: int = MIN_WIDTH, padding: int = PADDING, remember_widths: bool = True):
        self.min_width = min_width
        self.padding = padding
        self.remember = remember_widths
        self.max_widths: list[int] = []
        self._buffer: list[str] = []
        self._partial = ""

    def write(self, text: str) -> None:
        data = self._partial + text
        lines = data.split("\n")
        self._partial = lines.pop()
        self._buffer.extend(lines)

    def reset_widths(self) -> None:
        self.max_widths = []

    def flush(self) -> str:
        lines = self._buffer
        if self._partial:
            lines = lines + [self._partial]
            trailing_newline = False
        else:
            trailing_newline = True
        self._buffer, self._partial = [], ""
        if not lines:
            return ""
        cells = [line.split("\t") for line in lines]
        widths: dict[tuple[int, int], int] = {}  # (line index, column) -> width
        self._format(cells, 0, 0, len(cells), widths, [])
        out = []
        for i, row in enumerate(cells):
            parts = []
            for col, cell in enumerate(row):
                if col < len(row) - 1:
                    parts.append(cell + " " * (widths[(i, col)] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))
        text = "\n".join(out)
        return text + ("\n" if trailing_newline else "")

    def _format(self, cells: list[list[str]], column: int, line0: int, line1: int,
                widths: dict[tuple[int, int], int], stack: list[int]) -> None:
        """Go's tabwriter.format: find column blocks recursively, left to right."""
        this = line0
        while this < line1:
            line = cells[this]
            if column >= len(line) - 1:
                this += 1
                continue
            # a column block begins at `this`
            width = self.min_width
            start = this
            while this < line1:
                line = cells[this]
                if column >= len(line) - 1:
                    break
                w = len(line[column]) + self.padding
                if w > width:
                    width = w
                this += 1
            if self.remember:
                depth = len(stack)
                if len(self.max_widths) <= depth:
                    self.max_widths.extend([0] * (depth + 1 - len(self.max_widths)))
                if self.max_widths[depth] > width:
                    width = self.max_widths[depth]
                else:
                    self.max_widths[depth] = width
            for i in range(start, this):
                widths[(i, column)] = width
            stack.append(width)
            self._format(cells, column + 1, start, this, widths, stack)
            stack.pop()


def render(rows: list[list[str]]) -> str:
    """A one-shot table: rows of cells, aligned as kubectl aligns them."""
    tw = TabWriter()
    for row in rows:
        tw.write("\t".join(row) + "\n")
    return tw.flush()
