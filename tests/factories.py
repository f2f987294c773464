"""factory-boy factories for every model, in one place."""

import datetime

import factory
from django.contrib.auth import get_user_model

from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)

PASSWORD = "rota-test-pass"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password(PASSWORD)


class AcademicYearFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AcademicYear

    start_date = factory.Sequence(lambda n: datetime.date(2040 + n, 7, 1))
    end_date = factory.LazyAttribute(lambda o: datetime.date(o.start_date.year + 1, 6, 30))
    label = factory.LazyAttribute(lambda o: f"{o.start_date.year}-{o.end_date.year % 100:02d}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    kind = Person.Kind.RESIDENT
    active = True

    class Params:
        faculty = factory.Trait(kind=Person.Kind.FACULTY)
        with_login = factory.Trait(
            user=factory.SubFactory(UserFactory, username=factory.SelfAttribute("..email"))
        )


class ResidentYearFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResidentYear

    person = factory.SubFactory(PersonFactory)
    academic_year = factory.SubFactory(AcademicYearFactory)
    pgy_level = 1


class BlockFactory(factory.django.DjangoModelFactory):
    """Four-week blocks laid end to end from the year's start, numbered from 1."""

    class Meta:
        model = Block

    academic_year = factory.SubFactory(AcademicYearFactory)
    number = factory.LazyAttribute(lambda o: o.academic_year.blocks.count() + 1)
    start_date = factory.LazyAttribute(
        lambda o: o.academic_year.start_date + datetime.timedelta(days=28 * (o.number - 1))
    )
    end_date = factory.LazyAttribute(lambda o: o.start_date + datetime.timedelta(days=27))


class RotationTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RotationTemplate

    name = factory.Sequence(lambda n: f"Rotation {n}")
    code = factory.Sequence(lambda n: f"R{n}")
    kind = RotationTemplate.Kind.ELECTIVE
    min_people = 0
    max_people = 10
    allowed_pgy_levels = factory.LazyFunction(lambda: [1, 2, 3])
    weekly_hours = 50


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    person = factory.SubFactory(PersonFactory)
    block = factory.SubFactory(BlockFactory)
    rotation = factory.SubFactory(RotationTemplateFactory)
    role = Assignment.Role.PRIMARY


class AbsenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Absence

    person = factory.SubFactory(PersonFactory)
    start_date = datetime.date(2040, 7, 1)
    end_date = factory.LazyAttribute(lambda o: o.start_date + datetime.timedelta(days=6))
    kind = Absence.Kind.VACATION
    status = Absence.Status.APPROVED


# --- scheduling ---
from scheduling.models import CurriculumRequirement, GenerationRun  # noqa: E402


class CurriculumRequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CurriculumRequirement

    rotation = factory.SubFactory(RotationTemplateFactory)
    pgy_level = 1
    min_blocks = 1
    max_blocks = None


class GenerationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationRun

    academic_year = factory.SubFactory(AcademicYearFactory)
    parameters = factory.LazyFunction(
        lambda: {"time_limit_seconds": 10, "seed": 0, "workers": 1, "max_consecutive_heavy": 2}
    )
    rq_job_id = factory.LazyAttribute(lambda o: f"generation-run-test-{o.academic_year.pk}")


# --- shifts ---
from shifts.models import CoverageRule, Holiday, Shift, ShiftType, WorkPattern  # noqa: E402


class ShiftTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShiftType

    code = factory.Sequence(lambda n: f"S{n}")
    name = factory.Sequence(lambda n: f"Shift type {n}")
    kind = ShiftType.Kind.OVERNIGHT_CALL
    start_time = datetime.time(17, 0)
    length_hours = 14
    in_house = True
    allowed_pgy_levels = factory.LazyFunction(list)


class CoverageRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoverageRule

    shift_type = factory.SubFactory(ShiftTypeFactory)
    days = CoverageRule.Days.EVERY_DAY
    min_people = 1
    max_people = 1


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holiday

    date = datetime.date(2040, 7, 4)
    name = "Independence Day"


class WorkPatternFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkPattern

    rotation = factory.SubFactory(RotationTemplateFactory)
    weekday = 0
    start_time = datetime.time(7, 0)
    length_hours = 11


class ShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shift

    person = factory.SubFactory(PersonFactory)
    date = datetime.date(2040, 7, 2)
    shift_type = factory.SubFactory(ShiftTypeFactory)
