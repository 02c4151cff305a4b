"""The annual 100-point score (regulation §8): rules with stable codes, and recording events.

Every event names its unit, rule and (for workflow events) item, and who recorded it. Points
come from the rule (configurable per deployment), never from the caller, so nobody can record
"−7" quietly. A frozen year accepts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.errors import DomainError
from store.score import ScoreEvent, ScoreYear

BASE_SCORE = 100


@dataclass(frozen=True)
class Rule:
    code: str
    points: int
    name: str  # Chinese, as shown in tables and messages
    clause: str  # where the regulation says it
    disqualifies: bool = False


DEFAULT_RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("criticism.decision", -5, "重要工作部署落实不到位被通报批评", "第八条（一）"),
    Rule("criticism.project", -5, "民生工程、重点项目进度落后被通报批评", "第八条（二）"),
    Rule("criticism.meeting", -5, "重要会议决定事项未落实到位被通报批评", "第八条（三）"),
    Rule("late.leader_or_superior", -5, "上级或领导交办事项办理不及时或处理不到位", "第八条（四）"),
    Rule("late.npc_cppcc.lead", -2, "人大建议、政协提案未按时办结（主办）", "第八条（五）"),
    Rule("late.npc_cppcc.assist", -1, "人大建议、政协提案未按时办结（协办）", "第八条（五）"),
    Rule("criticism.other", -5, "其他督办事项无正当理由未落实到位", "第八条（六）"),
    Rule("late_feedback", -2, "未按要求及时反馈办理结果", "第八条（七）"),
    Rule("commendation", 5, "办理情况得到县政府领导肯定并通报表扬", "第八条（八）"),
    Rule("fraud", 0, "瞒报、谎报、弄虚作假（取消评先评优资格）", "第八条（九）", disqualifies=True),
)}


def rules_with_points(overrides: dict[str, int] | None) -> dict[str, Rule]:
    """The default rules with the deployment's points (config ``[score.points]``)."""
    rules = dict(DEFAULT_RULES)
    for code, points in (overrides or {}).items():
        if code not in rules:
            raise DomainError(f"未知的考核规则「{code}」（可选：{'、'.join(rules)}）")
        rules[code] = Rule(code, points, rules[code].name, rules[code].clause, rules[code].disqualifies)
    return rules


async def is_frozen(session: AsyncSession, year: int) -> bool:
    return await session.get(ScoreYear, year) is not None


async def record_event(
    session: AsyncSession,
    *,
    year: int,
    unit_id: int,
    rule_code: str,
    reason: str,
    now: datetime,
    item_id: int | None = None,
    assignment_id: int | None = None,
    recorded_by_id: int | None = None,
    automatic: bool = False,
    dedupe_key: str | None = None,
    rules: dict[str, Rule] | None = None,
) -> ScoreEvent | None:
    """Append an event; None when ``dedupe_key`` was recorded before. Refuses frozen years."""
    rules = rules or DEFAULT_RULES
    rule = rules.get(rule_code)
    if rule is None:
        raise DomainError(f"未知的考核规则「{rule_code}」（可选：{'、'.join(rules)}）")
    if not reason or not reason.strip():
        raise DomainError("考核记录必须写明理由")
    if await is_frozen(session, year):
        raise DomainError(f"{year}年度考核结果已审定，不能再增加记录")
    if dedupe_key is not None and await session.scalar(
            select(ScoreEvent.id).where(ScoreEvent.dedupe_key == dedupe_key)) is not None:
        return None
    event = ScoreEvent(
        year=year, unit_id=unit_id, rule=rule.code, points=rule.points, disqualifies=rule.disqualifies,
        item_id=item_id, assignment_id=assignment_id, reason=reason.strip(), automatic=automatic,
        recorded_by_id=recorded_by_id, recorded_at=now, dedupe_key=dedupe_key,
    )
    session.add(event)
    await session.flush()
    return event
