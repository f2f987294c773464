from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from residency import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Coordinators go to the admin; faculty and residents see their own assignments."""
    if selectors.is_coordinator(request.user):
        return redirect("admin:index")
    person = selectors.person_for_user(user=request.user)
    year = selectors.current_academic_year()
    assignments = []
    if person is not None and year is not None:
        assignments = (
            person.assignments.filter(block__academic_year=year)
            .select_related("block", "rotation")
            .order_by("block__number")
        )
    return render(
        request,
        "residency/home.html",
        {"person": person, "year": year, "assignments": assignments},
    )
