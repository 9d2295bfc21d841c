"""``/``: send each person to her own workspace."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from surveys.roles import is_coordinator, is_statistician


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if is_coordinator(user):
        return redirect("coordinator:worklist")
    if is_statistician(user) and not user.is_superuser:
        return redirect("statistician:home")
    if user.is_superuser:
        return render(request, "home_admin.html")
    return render(request, "home_no_role.html", status=403)
