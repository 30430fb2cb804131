from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "nextwork.common"
    label = "common"
