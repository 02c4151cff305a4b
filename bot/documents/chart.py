"""The status chart of the daily digest: open assignments per unit, green / yellow / red.

Drawn with Pillow: a stacked bar per unit, the worst on top, a legend and an integer scale. A
matplotlib figure cost 0.3–0.9 s of CPU per chart, which at a city's scale (a chart per leader,
one for the office) was most of the digest's time; Pillow draws the same picture in a few
hundredths of a second. ``draw_charts`` draws a digest's distinct charts in one worker thread,
off the event loop (a module lock keeps FreeType faces to one thread at a time).

Chinese labels need a CJK font. The project installs one from PyPI (noto-cjk-sans-otc,
Noto Sans CJK under the SIL OFL), so a fresh machine needs neither root nor system fonts. Without
it, a system CJK font is used: the font folders are searched for the usual CJK files, and each
face of a file (a collection holds several) is opened with Pillow to read its family. With none at
all the chart is still drawn (in Pillow's own font) and one warning says how to fix it. No
matplotlib: its font manager, used for this lookup before, added ~26 MB to the bot's resident
memory for one daily picture.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

from bot.domain.digest import ChartData, Digest, UnitBar
from bot.kernel.config import Settings

__all__ = ["ChartData", "UnitBar", "chart_files", "chart_key", "draw_charts", "draw_status_chart", "prune_charts"]

log = logging.getLogger("duban.digest_chart")

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Noto Serif CJK SC",
    "AR PL UMing CN",
)
COLORS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
LABELS = {"green": "正常推进", "yellow": "临期（3个工作日内）", "red": "已超期"}
MAX_UNITS = 15


# Where fonts are installed (fontconfig's folders, macOS, Windows), and file-name fragments of CJK fonts.
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "~/Library/Fonts",
    "C:/Windows/Fonts",
)
FONT_SUFFIXES = (".ttf", ".ttc", ".otf", ".otc")
SYSTEM_CJK_FILES = (
    "notosanscjk",
    "notoserifcjk",
    "sourcehansans",
    "sourcehanserif",
    "wqy",
    "msyh",
    "simhei",
    "pingfang",
    "uming",
    "ukai",
)
MAX_FACES = 64  # faces tried per file: a collection has a handful, a single font one
# The fix that works whatever make's stamp says: install the font package into the bot's own venv.
ADVICE = (
    "install the font package the bot depends on into its virtualenv (.venv/bin/pip install noto-cjk-sans-otc), "
    "or a system CJK font (apt-get install fonts-noto-cjk), then restart the bot"
)


def bundled_font_file() -> Path | None:
    """The Noto Sans CJK collection the package noto-cjk-sans-otc ships, if installed."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    return path if path.is_file() else None


def system_cjk_files() -> list[Path]:
    """Font files in the usual folders whose names look like a CJK font's."""
    found = []
    for folder in FONT_DIRS:
        for root, _dirs, files in os.walk(Path(folder).expanduser()):
            for name in files:
                squashed = name.lower().replace("-", "").replace("_", "")
                if name.lower().endswith(FONT_SUFFIXES) and any(part in squashed for part in SYSTEM_CJK_FILES):
                    found.append(Path(root) / name)
    return sorted(found)


def _families(path: Path) -> list[str]:
    """The family of each face in a font file, by face index; [] when it cannot be read."""
    from PIL import ImageFont

    families = []
    for index in range(MAX_FACES):
        try:
            families.append(ImageFont.truetype(str(path), 12, index=index).getname()[0] or "")
        except OSError:  # past the last face (FreeType: invalid argument), or not a font at all
            break
    if not families:
        log.warning("event=chart_font_unreadable path=%s", path)
    return families


def _best(paths: Sequence[Path]) -> tuple[str, int] | None:
    """(file, face index) of the most preferred CJK family (``CJK_FAMILIES``'s order) in ``paths``."""
    best: tuple[int, str, int] | None = None
    for path in paths:
        for index, family in enumerate(_families(path)):
            rank = CJK_FAMILIES.index(family) if family in CJK_FAMILIES else None
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, str(path), index)
        if best is not None and best[0] == 0:
            break
    return None if best is None else (best[1], best[2])


@lru_cache(maxsize=1)
def cjk_face() -> tuple[str, int] | None:
    """(file, face index) of a font that draws Simplified Chinese: the bundled Noto Sans CJK SC,
    else a system CJK font, else None (warned once, with advice that fixes it)."""
    bundled = bundled_font_file()
    found = (_best([bundled]) if bundled is not None else None) or _best(system_cjk_files())
    if found is None:
        log.warning(
            "event=chart_font_missing detail=no CJK font found; the digest chart's Chinese labels show as boxes. Fix: %s",
            ADVICE,
        )
    return found


def _top(bars: Sequence[UnitBar]) -> list[UnitBar]:
    """The units that need attention most: most red, then yellow, then most open."""
    ranked = sorted((b for b in bars if b.total), key=lambda b: (-b.red, -b.yellow, -b.total, b.unit))
    if len(ranked) <= MAX_UNITS:
        return ranked
    head, rest = ranked[: MAX_UNITS - 1], ranked[MAX_UNITS - 1 :]
    return head + [
        UnitBar(
            f"其他{len(rest)}个单位", sum(b.green for b in rest), sum(b.yellow for b in rest), sum(b.red for b in rest)
        )
    ]


def chart_key(data: ChartData) -> str:
    """A name for the picture ``data`` makes (its title and the bars drawn): equal pictures share one file."""
    drawn = "\n".join(f"{b.unit}\t{b.green}\t{b.yellow}\t{b.red}" for b in _top(data.bars))
    return hashlib.sha256(f"{data.title}\n{drawn}".encode()).hexdigest()[:20]


# Layout in pixels (Telegram shows a photo about 400–600 px wide on a phone; drawn at 880).
WIDTH, PAD, ROW, BAR = 880, 28, 40, 24
SIZES = {"title": 26, "legend": 17, "label": 19, "value": 15, "tick": 16}
INK, GRID, MUTED = "#212121", "#e0e0e0", "#616161"
_draw_lock = threading.Lock()


@lru_cache(maxsize=32)
def _face(source: tuple[str, int] | None, size: int):  # noqa: ANN202
    """A face of ``source`` (``cjk_face``'s file and index) at ``size``; None: Pillow's own font."""
    from PIL import ImageFont

    if source is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(source[0], size, index=source[1])


def _ticks(top: int) -> tuple[int, int]:
    """A round step (1, 2, 5 × 10^k) giving at most 6 intervals, and the scale's end (a multiple of it)."""
    top = max(top, 1)
    step, k = 1, 1
    while True:
        for m in (1, 2, 5):
            step = m * k
            if -(-top // step) <= 6:
                return step, -(-top // step) * step
        k *= 10


def _fit(draw, text: str, font, width: int) -> str:  # noqa: ANN001
    """``text`` cut with "…" to ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def draw_status_chart(data: ChartData, path: Path) -> Path:
    """Write the chart as a PNG at ``path`` (atomically) and return it."""
    from PIL import Image, ImageDraw

    bars = _top(data.bars)
    with _draw_lock:
        source = cjk_face()
        fonts = {name: _face(source, size) for name, size in SIZES.items()}
        plot_top = PAD + 96
        height = plot_top + ROW * max(len(bars), 1) + 92
        image = Image.new("RGB", (WIDTH, height), "white")
        draw = ImageDraw.Draw(image)
        draw.text(
            (WIDTH / 2, PAD),
            _fit(draw, data.title, fonts["title"], WIDTH - 2 * PAD),
            font=fonts["title"],
            fill=INK,
            anchor="mt",
        )
        _legend(draw, fonts["legend"], PAD + 50)

        label_w = min(
            math.ceil(max((draw.textlength(b.unit, font=fonts["label"]) for b in bars), default=0)) + 12, WIDTH // 3
        )
        x0, x1 = PAD + label_w, WIDTH - PAD - 40  # room right of the longest bar for its total
        step, end = _ticks(max((b.total for b in bars), default=1))
        scale = (x1 - x0) / end
        plot_bottom = plot_top + ROW * max(len(bars), 1)
        for value in range(0, end + 1, step):
            x = x0 + value * scale
            draw.line([(x, plot_top), (x, plot_bottom)], fill=GRID if value else MUTED, width=1)
            draw.text((x, plot_bottom + 8), str(value), font=fonts["tick"], fill=MUTED, anchor="mt")
        for row, bar in enumerate(bars):
            mid = plot_top + ROW * row + ROW / 2
            draw.text(
                (x0 - 10, mid),
                _fit(draw, bar.unit, fonts["label"], label_w - 12),
                font=fonts["label"],
                fill=INK,
                anchor="rm",
            )
            left = x0
            for key in ("red", "yellow", "green"):
                value = getattr(bar, key)
                if not value:
                    continue
                right = left + value * scale
                draw.rectangle([(left, mid - BAR / 2), (right, mid + BAR / 2)], fill=COLORS[key])
                if draw.textlength(str(value), font=fonts["value"]) + 6 <= right - left:
                    draw.text(((left + right) / 2, mid), str(value), font=fonts["value"], fill="white", anchor="mm")
                left = right
            draw.text((left + 6, mid), str(bar.total), font=fonts["value"], fill=MUTED, anchor="lm")
        draw.text(
            ((x0 + x1) / 2, plot_bottom + 40), "在办事项（按承办单位）", font=fonts["tick"], fill=INK, anchor="mt"
        )
        _save(image, path)
    return path


def _legend(draw, font, y: int) -> None:  # noqa: ANN001
    keys = ("red", "yellow", "green")
    widths = [18 + 8 + draw.textlength(LABELS[k], font=font) for k in keys]
    x = (WIDTH - sum(widths) - 28 * (len(keys) - 1)) / 2
    for key, width in zip(keys, widths, strict=True):
        draw.rectangle([(x, y - 9), (x + 18, y + 9)], fill=COLORS[key])
        draw.text((x + 26, y), LABELS[key], font=font, fill=INK, anchor="lm")
        x += width + 28


def _save(image, path: Path) -> None:  # noqa: ANN001
    """PNG in 64 colours (a fraction of the bytes to upload; flat colours and anti-aliased text survive)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(fh, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _draw_each(jobs: dict[Path, ChartData]) -> dict[Path, bool]:
    done = {}
    try:
        for path, data in jobs.items():
            try:
                draw_status_chart(data, path)
                done[path] = True
            except Exception:  # a chart is a convenience; the digest's text still goes
                log.exception("event=chart_failed path=%s", path)
                done[path] = False
    finally:
        with _draw_lock:  # the next charts come with tomorrow's digest: the faces are not kept (~7 MB)
            _face.cache_clear()
    return done


async def draw_charts(jobs: dict[Path, ChartData]) -> dict[Path, bool]:
    """Draw each chart whose file does not exist yet, in one worker thread; whether each file is there."""
    todo = {path: data for path, data in jobs.items() if not path.is_file()}
    drawn = await asyncio.to_thread(_draw_each, todo) if todo else {}
    return {path: drawn.get(path, True) for path in jobs}


# --------------------------------------------------------------------------------------------
# The digest's chart files: one per distinct picture, a month kept
# --------------------------------------------------------------------------------------------


def chart_path(settings: Settings, day: date, chart: ChartData) -> Path:
    return Path(settings.storage.files_dir) / "digest" / day.isoformat() / f"{chart_key(chart)}.png"


async def chart_files(settings: Settings, digests: list[Digest]) -> dict[int, Path | None]:
    """Each digest's chart file by person id (None: no chart, or it could not be drawn); each
    distinct chart drawn once, off the event loop."""
    by_chart: dict[int, Path] = {}  # recipients of one scope share one ChartData object: its name is made once
    for d in digests:
        if d.chart is not None and id(d.chart) not in by_chart:
            by_chart[id(d.chart)] = chart_path(settings, d.day, d.chart)
    paths = {d.person_id: by_chart[id(d.chart)] for d in digests if d.chart is not None}
    drawn = await draw_charts({by_chart[id(d.chart)]: d.chart for d in digests if d.chart is not None})
    return {
        d.person_id: path if (path := paths.get(d.person_id)) is not None and drawn[path] else None for d in digests
    }


KEEP_CHARTS_DAYS = 30


def prune_charts(settings: Settings, today: date) -> int:
    """Remove chart files of digests older than a month (long sent); returns the days removed."""
    root = Path(settings.storage.files_dir) / "digest"
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and (today - day).days > KEEP_CHARTS_DAYS:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
