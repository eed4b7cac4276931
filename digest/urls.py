from django.urls import path, re_path

from digest import views
from digest.mail import views as mail_views

urlpatterns = [
    path("", views.home, name="home"),
    re_path(r"^papers/(?P<day>\d{4}-\d{2}-\d{2})/$", views.day, name="papers_day"),
    path("feedback/<str:token>/", mail_views.feedback, name="feedback"),
    path("digests/<str:token>/", mail_views.digest_webview, name="digest_webview"),
]
