"""factory_boy factories for users and sites; trials and participants come from the services."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from surveys.accounts.roles import COORDINATOR, STATISTICIAN
from surveys.models import Participant, Site, Trial
from surveys.trial.participants import participant_randomize

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])
        self.save()


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"Cancer Centre {n}")
    timezone = "America/New_York"


def coordinator_of(*sites: Site, **kwargs: object) -> object:
    user = UserFactory(role=COORDINATOR, **kwargs)
    for site in sites:
        site.coordinators.add(user)
    return user


def statistician(**kwargs: object) -> object:
    return UserFactory(role=STATISTICIAN, **kwargs)


def randomize(
    trial: Trial,
    site: Site,
    *,
    arm: str = "A",
    study_id: str | None = None,
    randomized_on: dt.date,
    now: dt.datetime,
    language: str = "en",
) -> Participant:
    study_id = study_id or f"E2108-{Participant.objects.count() + 1:04d}"
    return participant_randomize(
        trial=trial,
        study_id=study_id,
        site=site,
        arm=trial.arms.get(code=arm),
        randomized_on=randomized_on,
        language=language,
        actor="test",
        now=now,
    )
