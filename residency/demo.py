"""Demo data: a believable family-medicine program to click through (``manage.py seed_demo``).

18 residents (six each of PGY-1..3), 12 faculty, the academic year containing today cut into 13
four-week blocks, ten rotations, a few absences, and a complete feasible schedule: every resident
has exactly one assignment in every block, every rotation is within its capacity, every resident
is eligible for their rotation, residents away (approved absence over half a block) are on Leave,
and faculty supervise where a rotation has a supervision ratio.

Idempotent: everything is found by its natural key (email, label, code, username) before being
created, and a year that already has assignments keeps them untouched.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from residency import services
from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)
from residency.selectors import COORDINATORS_GROUP, is_unavailable_for_block

DEMO_PASSWORD = "rota-demo"
DEMO_DOMAIN = "demo.rota.example"

RESIDENTS = {
    1: [
        "Amara Okafor",
        "Ben Castillo",
        "Chloe Nguyen",
        "Daniel Levi",
        "Esi Mensah",
        "Farid Haddad",
    ],
    2: ["Grace Kim", "Hugo Fischer", "Isla Moreau", "Jamal Wright", "Keiko Tanaka", "Liam Byrne"],
    3: [
        "Maya Patel",
        "Noah Schmidt",
        "Olivia Rossi",
        "Pedro Alves",
        "Quinn Murphy",
        "Rosa Jimenez",
    ],
}
FACULTY = [
    "Dr. Alice Brennan",
    "Dr. Bruno Costa",
    "Dr. Carmen Diaz",
    "Dr. David Osei",
    "Dr. Elena Petrova",
    "Dr. Frank Lindqvist",
    "Dr. Gita Raman",
    "Dr. Henry Walsh",
    "Dr. Ines Duarte",
    "Dr. James Whitaker",
    "Dr. Kavya Iyer",
    "Dr. Laura Chen",
]

K = RotationTemplate.Kind
RESIDENTS_STAFF = RotationTemplate.StaffedBy.RESIDENTS
FACULTY_STAFF = RotationTemplate.StaffedBy.FACULTY

# code: (name, kind, staffed_by, min, max, PGY levels, supervision ratio, heavy, weekly hours)
ROTATIONS = {
    "WARDS": (
        "Inpatient Medicine Wards",
        K.INPATIENT,
        RESIDENTS_STAFF,
        3,
        5,
        [1, 2, 3],
        4,
        True,
        70,
    ),
    "NIGHTS": ("Night Float", K.NIGHT, RESIDENTS_STAFF, 1, 2, [2, 3], None, True, 65),
    "ICU": ("Intensive Care Unit", K.ICU, RESIDENTS_STAFF, 1, 2, [2, 3], 2, True, 72),
    "OB": ("Obstetrics", K.INPATIENT, RESIDENTS_STAFF, 1, 2, [1, 2], 2, False, 60),
    "PEDS": ("Pediatrics", K.INPATIENT, RESIDENTS_STAFF, 1, 2, [1, 2], None, False, 55),
    "ED": ("Emergency Medicine", K.CALL, RESIDENTS_STAFF, 1, 3, [1, 2, 3], None, False, 55),
    "CLINIC": (
        "Family Medicine Clinic",
        K.CLINIC,
        RESIDENTS_STAFF,
        2,
        6,
        [1, 2, 3],
        None,
        False,
        45,
    ),
    "ELEC": ("Elective", K.ELECTIVE, RESIDENTS_STAFF, 0, 4, [2, 3], None, False, 40),
    "LEAVE": ("Leave", K.LEAVE, RESIDENTS_STAFF, 0, 18, [], None, False, 0),
    "PRECEPT": ("Clinic Precepting", K.CLINIC, FACULTY_STAFF, 1, 12, [], None, False, 45),
}
# Residents' rotations in the order the builder fills them (the most restricted first), and how
# many people each gets in a block when everybody is available.
FILL_ORDER = ["ICU", "NIGHTS", "OB", "PEDS", "WARDS", "ED", "CLINIC", "ELEC"]
TARGET = {"WARDS": 4, "NIGHTS": 2, "ICU": 2, "OB": 2, "PEDS": 2, "ED": 2, "CLINIC": 3, "ELEC": 1}

# (username, person email or None, role): the demo logins, all with DEMO_PASSWORD.
LOGINS = [
    ("coordinator", None, "coordinator"),
    ("faculty", "alice.brennan", "faculty"),
    ("faculty2", "bruno.costa", "faculty"),
    ("resident", "amara.okafor", "resident (PGY-1)"),
    ("resident2", "maya.patel", "resident (PGY-3)"),
]


@dataclass
class DemoSummary:
    year: AcademicYear
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # username, password, role


def _email(name: str) -> str:
    local = name.removeprefix("Dr. ").lower().replace(" ", ".")
    return f"{local}@{DEMO_DOMAIN}"


def academic_year_containing(today: datetime.date) -> tuple[str, datetime.date, datetime.date]:
    start_year = today.year if today.month >= 7 else today.year - 1
    label = f"{start_year}-{(start_year + 1) % 100:02d}"
    return label, datetime.date(start_year, 7, 1), datetime.date(start_year + 1, 6, 30)


@transaction.atomic
def demo_program_seed(*, today: datetime.date | None = None) -> DemoSummary:
    today = today or timezone.localdate()
    year = _year(today)
    summary = DemoSummary(year=year)
    if not year.blocks.exists():
        summary.created["blocks"] = len(services.blocks_create_for_year(academic_year=year))
    blocks = list(year.blocks.order_by("number"))

    rotations = {}
    for code, (name, kind, staffed_by, low, high, levels, ratio, heavy, hours) in ROTATIONS.items():
        rotations[code], created = RotationTemplate.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "staffed_by": staffed_by,
                "min_people": low,
                "max_people": high,
                "allowed_pgy_levels": levels,
                "supervision_ratio": ratio,
                "heavy": heavy,
                "weekly_hours": hours,
            },
        )
        summary.created["rotations"] += created

    residents: list[Person] = []
    for level, names in RESIDENTS.items():
        for name in names:
            person = _person(name, Person.Kind.RESIDENT, summary)
            _, created = ResidentYear.objects.get_or_create(
                person=person, academic_year=year, defaults={"pgy_level": level}
            )
            summary.created["pgy levels"] += created
            residents.append(person)
    faculty = [_person(name, Person.Kind.FACULTY, summary) for name in FACULTY]

    _absences(blocks, residents, faculty, summary)
    _logins(summary)

    if Assignment.objects.filter(block__academic_year=year).exists():
        return summary  # a schedule is there already (ours, or edited since): keep it
    plan = schedule_plan(year=year, blocks=blocks, rotations=rotations)
    Assignment.objects.bulk_create(plan)
    summary.created["assignments"] = len(plan)
    return summary


def _year(today: datetime.date) -> AcademicYear:
    existing = AcademicYear.objects.filter(start_date__lte=today, end_date__gte=today).first()
    if existing:
        return existing
    label, start, end = academic_year_containing(today)
    year, _ = AcademicYear.objects.get_or_create(
        label=label, defaults={"start_date": start, "end_date": end}
    )
    return year


def _person(name: str, kind: str, summary: DemoSummary) -> Person:
    person, created = Person.objects.get_or_create(
        email=_email(name), defaults={"name": name, "kind": kind}
    )
    summary.created["people"] += created
    return person


def _absences(
    blocks: list[Block], residents: list[Person], faculty: list[Person], summary: DemoSummary
) -> None:
    def days(block_number: int, first_day: int, length: int) -> tuple[datetime.date, ...]:
        block = blocks[min(block_number, len(blocks)) - 1]
        start = block.start_date + datetime.timedelta(days=first_day)
        return start, start + datetime.timedelta(days=length - 1)

    by_name = {p.name: p for p in [*residents, *faculty]}
    A, S = Absence.Kind, Absence.Status
    wanted = [
        # Whole block 4 away: on Leave in block 4.
        ("Grace Kim", *days(4, 0, 28), A.VACATION, S.APPROVED, "Family trip"),
        # Parental leave over blocks 7 and 8.
        ("Olivia Rossi", *days(7, 0, 56), A.PARENTAL, S.APPROVED, ""),
        # 16 of 28 days: more than half of block 11, so on Leave there.
        ("Jamal Wright", *days(11, 6, 16), A.VACATION, S.APPROVED, ""),
        # A conference week: less than half a block, stays on the rotation.
        ("Chloe Nguyen", *days(2, 7, 5), A.CONFERENCE, S.APPROVED, "STFM conference"),
        # Not approved (yet): no effect on the schedule.
        ("Pedro Alves", *days(10, 0, 21), A.VACATION, S.REQUESTED, "Waiting for a decision"),
        ("Ben Castillo", *days(6, 0, 14), A.VACATION, S.DENIED, "Clashes with Peds"),
        ("Dr. Carmen Diaz", *days(5, 10, 4), A.CONFERENCE, S.APPROVED, "AAFP assembly"),
    ]
    for name, start, end, kind, status, note in wanted:
        if end > blocks[-1].end_date:
            continue  # the year was cut into fewer blocks than the demo assumes
        _, created = Absence.objects.get_or_create(
            person=by_name[name],
            start_date=start,
            end_date=end,
            kind=kind,
            defaults={"status": status, "note": note},
        )
        summary.created["absences"] += created


def _logins(summary: DemoSummary) -> None:
    User = get_user_model()
    group, _ = Group.objects.get_or_create(name=COORDINATORS_GROUP)
    for username, email_local, role in LOGINS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": role == "coordinator"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            summary.created["logins"] += 1
        if role == "coordinator":
            user.groups.add(group)
            user.first_name, user.last_name = "Casey", "Coordinator"
            user.save(update_fields=["first_name", "last_name"])
        else:
            person = Person.objects.get(email=f"{email_local}@{DEMO_DOMAIN}")
            if person.user_id is None and not Person.objects.filter(user=user).exists():
                person.user = user
                person.save(update_fields=["user"])
        summary.logins.append((username, DEMO_PASSWORD, role))


def schedule_plan(
    *, year: AcademicYear, blocks: list[Block], rotations: dict[str, RotationTemplate]
) -> list[Assignment]:
    """A complete, feasible schedule for the year, built greedily and deterministically.

    Per block: residents away for most of it go on Leave; then each rotation is filled to its
    minimum, then to its target, the most restricted rotations first, each time choosing the
    eligible resident who has done that rotation least (for heavy ones: never past the limit of
    consecutive heavy blocks, and preferring the shortest current run of them); whoever is left
    goes where there is room. Faculty supervise ceil(residents / ratio) per supervised rotation,
    in turn, and precept clinic otherwise.
    """
    levels = dict(
        ResidentYear.objects.filter(academic_year=year).values_list("person_id", "pgy_level")
    )
    people = list(
        Person.objects.filter(active=True, email__endswith=f"@{DEMO_DOMAIN}").order_by("pk")
    )
    residents = [p for p in people if p.is_resident and p.pk in levels]
    faculty = [p for p in people if not p.is_resident]
    absences = defaultdict(list)
    for absence in Absence.objects.filter(
        status=Absence.Status.APPROVED,
        end_date__gte=year.start_date,
        start_date__lte=year.end_date,
    ):
        absences[absence.person_id].append(absence)

    done: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # Consecutive heavy blocks so far per resident: nobody exceeds the generation rule's limit.
    heavy_streak: dict[int, int] = defaultdict(int)
    max_heavy = settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY
    plan: list[Assignment] = []
    for block in blocks:
        placed: dict[str, list[Person]] = {code: [] for code in rotations}
        free = []
        for person in residents:
            if is_unavailable_for_block(block=block, absences=absences[person.pk]):
                placed["LEAVE"].append(person)
            else:
                free.append(person)
        # Rotate who goes first each block so that ties fall to different people.
        shift = (block.number * 5) % len(free) if free else 0
        free = free[shift:] + free[:shift]

        # Every rotation to its minimum first, then to its usual number.
        for wanted in ({code: rotations[code].min_people for code in FILL_ORDER}, TARGET):
            for code in FILL_ORDER:
                rotation = rotations[code]
                candidates = [
                    p
                    for p in free
                    if levels[p.pk] in rotation.allowed_pgy_levels
                    and not (rotation.heavy and heavy_streak[p.pk] >= max_heavy)
                ]
                # Stable sort: ties keep this block's turn order.
                candidates.sort(
                    key=lambda p, code=code, heavy=rotation.heavy: (
                        heavy and heavy_streak[p.pk],
                        done[p.pk][code],
                    )
                )
                for person in candidates[: max(0, wanted[code] - len(placed[code]))]:
                    placed[code].append(person)
                    free.remove(person)
        for person in list(free):
            room = [
                code
                for code in ("CLINIC", "ELEC", "ED", "WARDS", "PEDS", "OB")
                if levels[person.pk] in rotations[code].allowed_pgy_levels
                and len(placed[code]) < rotations[code].max_people
                and not (rotations[code].heavy and heavy_streak[person.pk] >= max_heavy)
            ]
            if not room:
                raise RuntimeError(f"demo schedule: no room for {person} in block {block.number}")
            code = min(room, key=lambda c: done[person.pk][c])
            placed[code].append(person)
            free.remove(person)

        for code, persons in placed.items():
            for person in persons:
                done[person.pk][code] += 1
                heavy_streak[person.pk] = (
                    heavy_streak[person.pk] + 1 if rotations[code].heavy else 0
                )
                plan.append(Assignment(person=person, block=block, rotation=rotations[code]))

        # Faculty: supervisors in turn, everyone else precepts in clinic.
        turn = (block.number * 3) % len(faculty) if faculty else 0
        available = [
            p
            for p in faculty[turn:] + faculty[:turn]
            if not is_unavailable_for_block(block=block, absences=absences[p.pk])
        ]
        for code, rotation in rotations.items():
            if rotation.supervision_ratio and placed[code]:
                for _ in range(math.ceil(len(placed[code]) / rotation.supervision_ratio)):
                    plan.append(
                        Assignment(
                            person=available.pop(0),
                            block=block,
                            rotation=rotation,
                            role=Assignment.Role.SUPERVISING,
                        )
                    )
        for person in available[: rotations["PRECEPT"].max_people]:
            plan.append(Assignment(person=person, block=block, rotation=rotations["PRECEPT"]))
    return plan
