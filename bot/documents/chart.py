"""The status chart of the daily digest: open assignments per unit, green / yellow / red.

Drawn with Pillow: a stacked bar per unit, the worst on top, a legend and an integer scale. A
matplotlib figure cost 0.3–0.9 s of CPU per chart, which at a city's scale (a chart per leader,
one for the office) was most of the digest's time; Pillow draws the same picture in a few
hundredths of a second. ``draw_charts`` draws a digest's distinct charts in one worker thread,
off the event loop (a module lock keeps FreeType faces to one thread at a time).

Chinese labels need a CJK font. The project installs one from PyPI (noto-cjk-sans-otc,
Noto Sans CJK under the SIL OFL), so a fresh machine needs neither root nor system fonts; its file
is registered with matplotlib's font manager by path, so a font cache written before the install
does not matter. Without it, a system CJK font is used (also registered by path when the cache
predates it); with none at all the chart is still drawn (in matplotlib's DejaVu Sans) and one warning says how
to fix it. The font is found through matplotlib's font manager (it knows the system's fonts and
reads a font collection face by face); Pillow draws with that file and face.
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


# System font files worth registering when matplotlib's cache predates them (file-name fragments).
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


def _known(font_manager) -> str | None:  # noqa: ANN001
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def _register(font_manager, path: Path | str) -> bool:  # noqa: ANN001
    try:
        font_manager.fontManager.addfont(str(path))
    except (OSError, RuntimeError, ValueError) as exc:  # an unreadable or broken font file
        log.warning("event=chart_font_unreadable path=%s detail=%s", path, exc)
        return False
    return True


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """A font family that draws Simplified Chinese: the bundled Noto Sans CJK SC, else a system CJK
    font, else None (warned once, with advice that fixes it)."""
    from matplotlib import font_manager

    bundled = bundled_font_file()
    if bundled is not None and _register(font_manager, bundled) and (family := _known(font_manager)):
        return family
    if family := _known(font_manager):
        return family
    # matplotlib's cache may predate a system font installed later: register matching files by path.
    for path in font_manager.findSystemFonts():
        if any(part in Path(path).name.lower().replace("-", "").replace("_", "") for part in SYSTEM_CJK_FILES):
            _register(font_manager, path)
    if family := _known(font_manager):
        return family
    log.warning(
        "event=chart_font_missing detail=no CJK font found; the digest chart's Chinese labels show as boxes. Fix: %s",
        ADVICE,
    )
    return None


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


def font_source() -> tuple[str, int]:
    """(file, face index) of the CJK font (``cjk_font``), else matplotlib's own DejaVu Sans."""
    from matplotlib import font_manager

    family = cjk_font() or "DejaVu Sans"
    found = font_manager.findfont(font_manager.FontProperties(family=family))
    return str(found), int(getattr(found, "face_index", 0) or 0)


@lru_cache(maxsize=32)
def _face(path: str, index: int, size: int):  # noqa: ANN202
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=index)


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
    source = font_source()
    with _draw_lock:
        fonts = {name: _face(*source, size) for name, size in SIZES.items()}
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
    for path, data in jobs.items():
        try:
            draw_status_chart(data, path)
            done[path] = True
        except Exception:  # a chart is a convenience; the digest's text still goes
            log.exception("event=chart_failed path=%s", path)
            done[path] = False
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
