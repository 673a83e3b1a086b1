"""Pure routing rules: first match by position, null = any, pools, round-robin, least-loaded, family rank."""

from __future__ import annotations

from backoffice.routing import rules as r

ITEM = r.ItemFacts(practice_id=1, kind="work_denial", queue="denials", payer_id=7, denial_family="eligibility")


def person(uid: int, name: str, *, active: bool = True, practices=(1,), queues=(), skills=(), load=0) -> r.Candidate:  # noqa: ANN001
    return r.Candidate(uid, name, active, frozenset(practices), frozenset(queues), frozenset(skills), load)


def rule(rid: int = 1, position: int = 10, **kw) -> r.Rule:  # noqa: ANN003
    return r.Rule(id=rid, name=kw.pop("name", f"Rule {rid}"), position=position, **kw)


def test_unset_fields_match_anything_and_set_fields_must_equal() -> None:
    assert r.matches(rule(), ITEM)
    assert r.matches(rule(practice_id=1, payer_id=7, kind="work_denial", denial_family="eligibility"), ITEM)
    assert not r.matches(rule(payer_id=8), ITEM)
    assert not r.matches(rule(practice_id=2), ITEM)
    assert not r.matches(rule(kind="appeal"), ITEM)
    assert not r.matches(rule(denial_family="coding"), ITEM)
    assert not r.matches(rule(denial_family="coding"), r.ItemFacts(1, "work_denial", "denials"))


def test_the_lowest_position_wins_then_the_lowest_id_and_inactive_rules_never_match() -> None:
    broad = rule(1, position=50)
    narrow = rule(2, position=20, payer_id=7)
    tie = rule(3, position=20)
    inactive = rule(4, position=1, active=False)
    assert r.first_match([broad, tie, narrow, inactive], ITEM) == narrow
    assert r.first_match([broad, rule(5, position=50)], ITEM) == broad
    assert r.first_match([inactive, rule(6, payer_id=99)], ITEM) is None


def test_round_robin_cycles_in_id_order_and_wraps() -> None:
    assert r.next_round_robin([5, 2, 9], None) == 2
    assert r.next_round_robin([5, 2, 9], 2) == 5
    assert r.next_round_robin([5, 2, 9], 9) == 2
    assert r.next_round_robin([5, 2, 9], 6) == 9  # the cursor's user left the pool: the next one after it


def test_round_robin_skips_a_deactivated_person() -> None:
    pool_rule = rule(distribution="round_robin", user_ids=(1, 2, 3))
    people = [person(1, "Ann"), person(2, "Ben", active=False), person(3, "Cy")]
    cursor, chosen = None, []
    for _ in range(4):
        decision = r.decide(pool_rule, ITEM, people, cursor=cursor)
        cursor = decision.assignee_id
        chosen.append(cursor)
    assert chosen == [1, 3, 1, 3]
    assert "round robin: Cy" in r.decide(pool_rule, ITEM, people, cursor=1).body


def test_least_loaded_takes_the_fewest_open_items_and_ties_go_to_the_lowest_id() -> None:
    pool_rule = rule(name="Denials – Aetna", distribution="least_loaded", user_ids=(1, 2, 3))
    people = [person(1, "Marcus", load=5), person(2, "Priya", load=3), person(3, "Zed", load=3)]
    decision = r.decide(pool_rule, ITEM, people)
    assert decision.assignee_id == 2
    assert decision.body == "Routed by rule 'Denials – Aetna' (least loaded: Priya 3 open vs Zed 3, Marcus 5)"
    assert decision.data["distribution"] == "least_loaded" and decision.data["rule_id"] == pool_rule.id


def test_an_implicit_pool_is_everyone_who_works_the_queue_serves_the_practice_and_has_the_skill() -> None:
    pool_rule = rule(distribution="least_loaded", target_queue="medicaid", required_skill="medicaid")
    people = [
        person(1, "No skill", queues=("medicaid",)),
        person(2, "Other practice", practices=(2,), skills=("medicaid",)),
        person(3, "Other queue", queues=("coding",), skills=("medicaid",)),
        person(4, "Inactive", active=False, skills=("medicaid",)),
        person(5, "Every queue", skills=("medicaid",), load=4),
        person(6, "Works it", queues=("medicaid",), skills=("medicaid",), load=2),
    ]
    assert [p.id for p in r.pool(pool_rule, people, ITEM)] == [5, 6]
    assert r.decide(pool_rule, ITEM, people).assignee_id == 6


def test_a_person_target_who_is_unqualified_is_never_chosen_and_the_item_stays_in_the_queue() -> None:
    to_ann = rule(distribution="person", target_user_id=1, required_skill="medicaid", target_queue="medicaid")
    ann = person(1, "Ann", skills=("medicaid",))
    assert r.decide(to_ann, ITEM, [ann]).assignee_id == 1
    for who, why in (
        (person(1, "Ann", active=False, skills=("medicaid",)), "Ann is inactive"),
        (person(1, "Ann", practices=(2,), skills=("medicaid",)), "Ann does not serve the practice"),
        (person(1, "Ann"), "Ann lacks skill 'medicaid'"),
    ):
        decision = r.decide(to_ann, ITEM, [who])
        assert decision.assignee_id is None and decision.queue == "medicaid"
        assert why in decision.body and "left in queue medicaid" in decision.reason


def test_an_empty_pool_leaves_the_item_in_the_queue_and_says_why() -> None:
    decision = r.decide(rule(distribution="round_robin", required_skill="spanish"), ITEM, [person(1, "Ann")])
    assert decision.assignee_id is None and decision.queue == "denials"
    assert "pool empty" in decision.reason and "skill 'spanish'" in decision.reason


def test_a_queue_only_rule_moves_the_item_to_its_queue() -> None:
    decision = r.decide(rule(name="Aetna", target_queue="aetna"), ITEM, [])
    assert (decision.queue, decision.assignee_id, decision.body) == (
        "aetna",
        None,
        "Routed by rule 'Aetna' to queue aetna",
    )


def test_family_rank_puts_fixable_denials_first_and_timely_filing_and_write_offs_last() -> None:
    order = sorted(["write_off", "timely_filing", "authorization", "medical_necessity", "eligibility", "coding",
                    "records", None], key=r.family_rank)  # fmt: skip
    assert order[:2] == ["coding", "records"] or order[:2] == ["records", "coding"]
    assert order[2:] == ["eligibility", "medical_necessity", "authorization", "timely_filing", "write_off", None]
    assert r.family_rank("coding") == r.family_rank("records") == 0
