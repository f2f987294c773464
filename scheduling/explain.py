"""Why no schedule exists, in the coordinator's terms (docs/scheduling.md, "Infeasibility").

Two layers. ``precheck`` runs counting arguments that need no solver (a rotation's minimum
against the people who may take it, a cohort's curriculum against a rotation's places over the
year, a resident's requirements against their available blocks, supervisors against available
faculty) and says exactly which numbers do not add up. When the counts pass but the solver still
proves the model infeasible, ``explain_groups`` turns the rule groups CP-SAT names as
conflicting (``solver.infeasible_groups``) into sentences.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from scheduling.problem import Problem
from scheduling.solver import Group, resident_rotations


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _levels(levels) -> str:
    return ", ".join(f"PGY-{n}" for n in sorted(levels)) or "no PGY level"


def precheck(problem: Problem) -> list[str]:
    p = problem
    messages: list[str] = []
    range_ids = p.range_block_ids
    if not p.block_ids:
        return [f"{p.year_label} has no blocks: create them first."]
    if not range_ids:
        return ["The block range contains no block of this year."]
    rotations = p.active_rotations
    heavy_ids = {r.id for r in p.rotations.values() if r.heavy}

    # Residents who have nothing they may do.
    for name, pgy in sorted(p.residents.values()):
        if not resident_rotations(p, pgy):
            messages.append(f"{name} is PGY-{pgy}, and no active rotation is open to PGY-{pgy}.")

    # Pinned assignments that break a rule by themselves.
    for (pid, bid), fixed in sorted(p.fixed.items()):
        if not fixed.pinned:
            continue
        rot = p.rotations[fixed.rotation_id]
        block = p.block_numbers[bid]
        who = p.person_name(pid)
        if not rot.active:
            messages.append(f"{who} is pinned to {rot.name} in block {block}, which is inactive.")
        elif pid in p.residents:
            pgy = p.residents[pid][1]
            if not rot.for_residents or (not rot.is_leave and pgy not in rot.allowed_pgy_levels):
                messages.append(
                    f"{who} (PGY-{pgy}) is pinned to {rot.name} in block {block}, "
                    f"which is open to {_levels(rot.allowed_pgy_levels)}."
                )
        if (pid, bid) in p.unavailable and not rot.is_leave:
            messages.append(
                f"{who} is pinned to {rot.name} in block {block} but is on approved leave "
                "for most of that block."
            )

    # Per block: minimums against the people who may fill them. The same sentence for several
    # blocks is said once, naming the blocks ("in blocks 1-13"), not once per block.
    per_block: dict[str, list[int]] = defaultdict(list)
    for bid in range_ids:
        number = p.block_numbers[bid]  # the sentences below say {blocks}, filled in at the end
        free_residents = [
            rid
            for rid in p.residents
            if (rid, bid) not in p.fixed and (rid, bid) not in p.unavailable
        ]
        # Residents kept where they are (pinned) on each rotation in this block.
        fixed_on = Counter(
            f.rotation_id for (pid, b), f in p.fixed.items() if b == bid and pid in p.residents
        )
        leave_count = sum(
            1 for rid in p.residents if (rid, bid) in p.unavailable and (rid, bid) not in p.fixed
        )
        for rot in rotations:
            if not rot.for_residents:
                continue
            eligible = [
                rid for rid in free_residents if p.residents[rid][1] in rot.allowed_pgy_levels
            ]
            have = fixed_on[rot.id] + (leave_count if rot.id == p.leave_rotation_id else 0)
            if not rot.is_leave and have + len(eligible) < rot.min_people:
                per_block[
                    f"{rot.name} needs at least {_plural(rot.min_people, 'resident')} in "
                    f"{{blocks}}, but only {have + len(eligible)} "
                    f"({_levels(rot.allowed_pgy_levels)}, not on leave) can be there."
                ].append(number)
            if have > rot.max_people:
                per_block[
                    f"{rot.name} holds at most {rot.max_people} in {{blocks}}, but "
                    f"{have} are already on it (pinned or on leave)."
                ].append(number)
        mins = sum(max(0, r.min_people - fixed_on[r.id]) for r in rotations if r.for_residents)
        if mins > len(free_residents):
            per_block[
                f"{{Blocks}}: the residents' rotations need at least {mins} residents "
                f"together, but only {len(free_residents)} are available."
            ].append(number)
        room = sum(
            max(0, r.max_people - fixed_on[r.id])
            for r in rotations
            if r.for_residents and not r.is_leave
        )
        if room < len(free_residents):
            per_block[
                f"{{Blocks}}: {len(free_residents)} residents need a rotation, but the "
                f"rotations hold only {room} more."
            ].append(number)
        # Each faculty member does one thing per block: the faculty services' minimums plus
        # the supervisors that the residents' minimum staffing needs must fit.
        faculty_here = [fid for fid in p.faculty if (fid, bid) not in p.unavailable]
        need = sum(r.min_people for r in rotations if not r.for_residents) + sum(
            math.ceil(r.min_people / r.supervision_ratio)
            for r in rotations
            if r.for_residents and r.supervision_ratio and not r.is_leave
        )
        if need > len(faculty_here):
            per_block[
                "{Blocks}: the faculty services and the supervision of the minimum "
                f"resident staffing need {_plural(need, 'faculty member')}, but only "
                f"{len(faculty_here)} are available."
            ].append(number)

    for template, numbers in per_block.items():
        label = blocks_label(numbers)
        messages.append(template.replace("{blocks}", label).replace("{Blocks}", label.capitalize()))

    # Per cohort and rotation over the year: curriculum against places.
    cohort_size = Counter(pgy for _, pgy in p.residents.values())
    demand: dict[int, int] = defaultdict(int)
    detail: dict[int, list[str]] = defaultdict(list)
    for (pgy, rot_id), (low, _high) in sorted(p.curriculum.items()):
        rot = p.rotations.get(rot_id)
        if rot is None or not cohort_size[pgy]:
            continue
        if low and pgy not in rot.allowed_pgy_levels:
            messages.append(
                f"PGY-{pgy} residents need {_plural(low, 'block')} of {rot.name}, but it is "
                f"open to {_levels(rot.allowed_pgy_levels)}."
            )
        if low:
            demand[rot_id] += low * cohort_size[pgy]
            detail[rot_id].append(
                f"PGY-{pgy} needs {_plural(low, rot.name + ' block')} each and there are "
                f"{_plural(cohort_size[pgy], f'PGY-{pgy}')}"
            )
    for rot_id, needed in demand.items():
        rot = p.rotations[rot_id]
        places = rot.max_people * len(p.block_ids)
        if needed > places:
            messages.append(
                f"{'; '.join(detail[rot_id])} ({needed} resident-blocks), but {rot.name} "
                f"holds {_plural(rot.max_people, 'person')} per block: {places} places in "
                f"{_plural(len(p.block_ids), 'block')}."
            )

    # Per resident: requirements against their own available blocks, heavy limit.
    c = p.max_consecutive_heavy
    for rid, (name, pgy) in sorted(p.residents.items()):
        required = {
            rot_id: low for (level, rot_id), (low, _) in p.curriculum.items() if level == pgy
        }
        available = sum(1 for bid in p.block_ids if (rid, bid) not in p.unavailable)
        total_min = sum(required.values())
        if total_min > available:
            messages.append(
                f"{name} (PGY-{pgy}) needs {total_min} required blocks but is available for "
                f"only {available} of {len(p.block_ids)} blocks."
            )
        heavy_min = sum(low for rot_id, low in required.items() if rot_id in heavy_ids)
        most_heavy = available - available // (c + 1)
        if heavy_min > most_heavy:
            messages.append(
                f"{name} (PGY-{pgy}) needs {heavy_min} heavy blocks, but with at most {c} heavy "
                f"blocks in a row {available} available blocks allow only {most_heavy}."
            )
    return list(dict.fromkeys(messages))  # unique, in order


def blocks_label(numbers) -> str:
    """ "block 3", "blocks 1-4, 7": block numbers as runs."""
    numbers = sorted(set(numbers))
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)
    return f"block{'s' if len(numbers) != 1 else ''} {text}"


def explain_groups(problem: Problem, groups: list[Group]) -> list[str]:
    """The conflicting rule groups as sentences that name the people, their leave, the pinned
    rows and the rules, in that order (the coordinator acts on people and pins first)."""
    p = problem
    people, needs, rules = [], [], []
    pins: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for group in groups:
        kind = group[0]
        if kind == "absence":
            rid = group[1]
            away = [p.block_numbers[b] for b in p.block_ids if (rid, b) in p.unavailable]
            notes = "; ".join(p.absence_notes.get(rid, []))
            people.append(
                f"{p.person_name(rid)} is on approved leave for {blocks_label(away)}"
                + (f" ({notes})" if notes else "")
                + "."
            )
        elif kind == "curriculum":
            rid, rot = group[1], p.rotations[group[2]]
            pgy = p.residents[rid][1]
            low, high = p.curriculum[pgy, rot.id]
            if high is None:
                amount = f"at least {_plural(low, 'block')}"
            elif low == high:
                amount = _plural(low, "block")
            else:
                amount = f"{low}-{high} blocks"
            needs.append(f"{p.person_name(rid)} (PGY-{pgy}) must take {amount} of {rot.name}.")
        elif kind == "pin":
            rid, bid = group[1], group[2]
            rot_id = p.fixed[rid, bid].rotation_id
            pins[rot_id].append((p.block_numbers[bid], p.person_name(rid)))
        elif kind == "heavy":
            codes = ", ".join(sorted(r.code for r in p.active_rotations if r.heavy))
            rules.append(
                f"{p.person_name(group[1])} may take no more than {p.max_consecutive_heavy} "
                f"heavy blocks ({codes}) in a row."
            )
        else:
            rot = p.rotations[group[-1]]
            staff = "residents" if rot.for_residents else "faculty"
            if kind == "capacity_min":
                rules.append(f"{rot.name} needs at least {rot.min_people} {staff} in every block.")
            elif kind == "capacity_max":
                rules.append(f"{rot.name} holds at most {rot.max_people} {staff} in any block.")
            elif kind == "supervision":
                rules.append(
                    f"{rot.name} needs one supervising faculty member per "
                    f"{_plural(rot.supervision_ratio, 'resident')}."
                )
    pinned = [
        f"Pinned assignments fill {p.rotations[rot_id].name}: "
        + ", ".join(f"{who} block {number}" for number, who in sorted(rows))
        + "."
        for rot_id, rows in sorted(pins.items(), key=lambda item: p.rotations[item[0]].name)
    ]
    return people + needs + pinned + sorted(set(rules), key=rules.index)
