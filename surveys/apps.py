from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Trials and questionnaires"
    default_auto_field = "django.db.models.BigAutoField"
