from django.urls import path, re_path

from digest import views, views_email

urlpatterns = [
    path("", views.home, name="home"),
    re_path(r"^papers/(?P<day>\d{4}-\d{2}-\d{2})/$", views.day, name="papers_day"),
    path("feedback/<str:token>/", views_email.feedback, name="feedback"),
    path("digests/<str:token>/", views_email.digest_webview, name="digest_webview"),
]
