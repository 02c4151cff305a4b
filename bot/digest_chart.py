"""The status chart of the daily digest: open assignments per unit, green / yellow / red.

Drawn with matplotlib's Agg backend through the object API (no pyplot state, safe in a worker
thread). Chinese labels need a CJK font. The project installs one from PyPI (noto-cjk-sans-otc,
Noto Sans CJK under the SIL OFL), so a fresh machine needs neither root nor system fonts; its file
is registered with matplotlib's font manager by path, so a font cache written before the install
does not matter. Without it, a system CJK font is used (also registered by path when the cache
predates it); with none at all the chart is still drawn and one warning says how to fix it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("duban.digest_chart")

CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Noto Serif CJK SC", "AR PL UMing CN",
)
COLORS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
LABELS = {"green": "正常推进", "yellow": "临期（3个工作日内）", "red": "已超期"}
MAX_UNITS = 15


@dataclass(frozen=True)
class UnitBar:
    unit: str
    green: int
    yellow: int
    red: int

    @property
    def total(self) -> int:
        return self.green + self.yellow + self.red


@dataclass(frozen=True)
class ChartData:
    title: str
    bars: tuple[UnitBar, ...]

    @property
    def worth_drawing(self) -> bool:
        return any(b.total for b in self.bars)


# System font files worth registering when matplotlib's cache predates them (file-name fragments).
SYSTEM_CJK_FILES = ("notosanscjk", "notoserifcjk", "sourcehansans", "sourcehanserif", "wqy", "msyh", "simhei",
                    "pingfang", "uming", "ukai")
# The fix that works whatever make's stamp says: install the font package into the bot's own venv.
ADVICE = ("install the font package the bot depends on into its virtualenv (.venv/bin/pip install noto-cjk-sans-otc), "
          "or a system CJK font (apt-get install fonts-noto-cjk), then restart the bot")


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
    log.warning("event=chart_font_missing detail=no CJK font found; the digest chart's Chinese labels show "
                "as boxes. Fix: %s", ADVICE)
    return None


def _top(bars: Sequence[UnitBar]) -> list[UnitBar]:
    """The units that need attention most: most red, then yellow, then most open."""
    ranked = sorted((b for b in bars if b.total), key=lambda b: (-b.red, -b.yellow, -b.total, b.unit))
    if len(ranked) <= MAX_UNITS:
        return ranked
    head, rest = ranked[:MAX_UNITS - 1], ranked[MAX_UNITS - 1:]
    return head + [UnitBar(f"其他{len(rest)}个单位", sum(b.green for b in rest), sum(b.yellow for b in rest),
                           sum(b.red for b in rest))]


def draw_status_chart(data: ChartData, path: Path) -> Path:
    """Write the chart as a PNG at ``path`` (atomically) and return it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bars = list(reversed(_top(data.bars)))  # barh draws bottom-up: the worst unit on top
    family = cjk_font()
    rc = {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"], "axes.unicode_minus": False}
    import matplotlib

    with matplotlib.rc_context(rc), warnings.catch_warnings():
        if family is None:  # already warned once (cjk_font); not once per missing glyph
            warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
        height = 1.6 + 0.42 * max(len(bars), 1)
        fig = Figure(figsize=(8, height), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(111)
        names = [b.unit for b in bars]
        left = [0] * len(bars)
        for key in ("red", "yellow", "green"):
            values = [getattr(b, key) for b in bars]
            ax.barh(names, values, left=left, color=COLORS[key], label=LABELS[key], height=0.6)
            for i, v in enumerate(values):
                if v:
                    ax.text(left[i] + v / 2, i, str(v), ha="center", va="center", color="white", fontsize=8)
            left = [a + b for a, b in zip(left, values)]
        ax.set_title(data.title, fontsize=12, pad=22)
        ax.set_xlabel("在办事项（按承办单位）")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fig.savefig(fh, format="png")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path
