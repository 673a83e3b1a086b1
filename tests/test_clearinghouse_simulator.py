"""The clearinghouse simulator (backoffice/clearinghouse/simulator.py): the answers it writes are X12 our posting
reads (TA1, 999, 277CA, 835), its rejections and denials are seeded, its files are named as each profile's inbound
patterns expect, a duplicate interchange is not answered twice, and the 835 waits until it is due."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest

from backoffice.clearinghouse.profiles import PROFILES, profile
from backoffice.clearinghouse.sandbox_x12_model import NOT_REMITTED
from backoffice.clearinghouse.simulator import Simulator, answer_837, response_name, seeded_scenario
from backoffice.exchange.ingest import detect_kind
from backoffice.x12.acks import parse_277ca, parse_999, parse_ta1
from backoffice.x12.envelopes import complete_interchanges
from backoffice.x12.era835 import parse_835
from tests.test_claim837 import SUBSCRIBER, batch_of, claim_for, facts, write

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def _837(claims: int = 40, isa13: int = 17) -> str:
    entries = [
        (SUBSCRIBER, None, claim_for(facts("psychotherapy", 45), "commercial", f"SIM-{n}")) for n in range(claims)
    ]
    return write(batch_of("commercial", *entries), interchange_control_number=isa13, group_control_number=isa13)


def test_the_answers_are_x12_our_posting_reads_and_match_every_claim() -> None:
    text = _837()
    answer = answer_837(text, seed=3, now=NOW, controls=count(1).__next__)
    kinds = [kind for kind, _, _ in answer.now]
    assert kinds == ["TA1", "999", "277"]
    by_kind = {kind: content for kind, _, content in answer.now}
    for content in (*by_kind.values(), answer.remit[1]):
        complete_interchanges(content)  # every envelope complete and counted
    assert [detect_kind(by_kind[k])[0] for k in kinds] == ["TA1", "999", "277CA"]
    assert detect_kind(answer.remit[1])[0] == "835"
    (ta1,) = parse_ta1(by_kind["TA1"])
    assert (ta1.interchange_control_number, ta1.ack_code, ta1.note_code) == ("000000017", "A", "000")
    (ack,) = parse_999(by_kind["999"])
    assert ack.group_control_number == "17" and all(t.accepted for t in ack.transactions)
    acks = parse_277ca(by_kind["277"])
    assert sorted(a.claim_id for a in acks) == sorted(f"SIM-{n}" for n in range(40))
    rejected = {a.claim_id for a in acks if a.rejected}
    assert rejected == {acct for acct, s in answer.scenarios.items() if s == "rejected"}
    remitted = {c.claim_id for r in parse_835(answer.remit[1]) for c in r.claims}
    assert remitted == {acct for acct, s in answer.scenarios.items() if s not in NOT_REMITTED}
    # the response control numbers are the simulator's own, one per interchange, in order
    assert [control for _, control, _ in answer.now] + [answer.remit[0]] == [1, 2, 3, 4]


def test_rejections_and_denials_are_a_seeded_share() -> None:
    accounts = [f"ACCT-{n}" for n in range(1000)]
    first = [seeded_scenario(a, 7) for a in accounts]
    assert first == [seeded_scenario(a, 7) for a in accounts]  # the same seed: the same fates
    assert first != [seeded_scenario(a, 8) for a in accounts]  # another seed: others
    rejected = first.count("rejected")
    denied = sum(s.startswith("denied") for s in first)
    assert 20 <= rejected <= 65 and 100 <= denied <= 180  # 4% and 14% of 1,000 by the Sandbox's weights


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_response_names_follow_the_profile_and_sort_in_writing_order(key: str) -> None:
    chosen = profile(key)
    names = [
        response_name(chosen, "837P_calm_000000017", n, kind) for n, kind in enumerate(["TA1", "999", "277", "835"], 1)
    ]
    assert names == sorted(names)
    assert [chosen.report_kind(name) for name in names] == ["x12"] * 4  # read as X12, never as a text report
    if key in ("office_ally", "availity"):
        assert chosen.report_kind(response_name(chosen, "837P_calm_000000017", 5, "EBR")) == "report"


def _simulator(tmp_path: Path, wall: list[float], key: str = "office_ally") -> Simulator:
    return Simulator(
        upload=tmp_path / "inbound", download=tmp_path / "outbound", state=tmp_path / "state", profile=profile(key),
        seed=3, remit_after=30, clock=lambda: NOW, wall=lambda: wall[0],
    )  # fmt: skip


def test_each_upload_is_answered_once_and_the_835_comes_when_it_is_due(tmp_path: Path) -> None:
    wall = [1000.0]
    sim = _simulator(tmp_path, wall)
    text = _837()
    (sim.upload / ".837P_calm_000000017.txt.part").write_text(text[:500])  # an upload in progress: not touched
    (sim.upload / "837P_calm_000000017.txt").write_text(text[: len(text) // 2])  # not complete yet: next pass
    assert sim.scan() == []
    (sim.upload / "837P_calm_000000017.txt").write_text(text)
    (line,) = sim.scan()
    assert "interchange 000000017, 40 claim(s)" in line
    names = sorted(p.name for p in sim.download.iterdir())
    assert names == ["837P_calm_000000017_000000001_TA1.txt", "837P_calm_000000017_000000002_999.txt",
                     "837P_calm_000000017_000000003_277.txt", "837P_calm_000000017_000000004_EBR.txt"]  # fmt: skip
    assert not (sim.upload / "837P_calm_000000017.txt").exists()  # taken, kept in the simulator's records
    assert sim.pending() == 1 and sim.scan() == []
    wall[0] += 31
    assert sim.scan() == ["837P_calm_000000017_000000005_835.txt: 835 released"]
    assert sim.pending() == 0
    # the same interchange uploaded again: set aside, not answered twice
    (sim.upload / "837P_calm_000000017.txt").write_text(text)
    assert "answered before" in sim.scan()[0]
    assert len(list(sim.download.iterdir())) == 5
    events = [e["event"] for e in sim.ledger()]
    assert events.count("received") == 1 and events.count("duplicate") == 1 and events.count("wrote") == 5
    received = next(e for e in sim.ledger() if e["event"] == "received")
    assert len(received["claims"]) == 40 and received["isa13"] == "000000017"


def test_a_restarted_simulator_still_sends_the_835s_it_owes(tmp_path: Path) -> None:
    wall = [1000.0]
    _simulator(tmp_path, wall, "availity").upload.joinpath("837P-calm-000000017.edi").write_text(_837())
    assert len(_simulator(tmp_path, wall, "availity").scan()) == 1
    wall[0] += 60
    again = _simulator(tmp_path, wall, "availity")  # a new process on the same folders and state
    assert again.scan() == ["837P-calm-000000017.000000005.835: 835 released"]
