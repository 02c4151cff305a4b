"""The running bot sees a holiday schedule loaded from the command line without a restart."""

from pathlib import Path

from bot.domain.schedules import save_schedule


async def test_a_year_loaded_while_the_bot_runs_is_used_at_once(harness):
    services = harness.app.bot_data["services"]
    assert not (await services.calendar()).knows(2027)
    text = (Path(__file__).resolve().parents[2] / "docs/schedule-example-2027.toml").read_text(encoding="utf-8")
    async with harness.db.session() as s:  # as `python -m bot workdays load` does, from another process
        await save_schedule(s, text, "cli", harness.clock.now())
    harness.clock.advance(seconds=30)
    assert not (await services.calendar()).knows(2027)  # checked at most once a minute, not per update
    harness.clock.advance(seconds=31)
    assert (await services.calendar()).knows(2027)
