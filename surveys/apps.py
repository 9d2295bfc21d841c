from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Trials and questionnaires"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from surveys.accounts import signals  # noqa: F401  (connects the login receivers)
