from django.urls import path

from accounts import views

urlpatterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/sent/", views.subscribe_sent, name="subscribe_sent"),
    path("subscribe/preview.json", views.topic_preview, name="topic_preview"),
    path("confirm/", views.confirm_page, name="confirm_page"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/", views.manage_request, name="manage_request"),
    path("manage/sent/", views.manage_sent, name="manage_sent"),
    path("manage/sign-in/", views.sign_in_page, name="sign_in_page"),
    path("manage/sign-in/<str:token>/", views.sign_in, name="sign_in"),
    path("manage/open/", views.manage_link_page, name="manage_link_page"),
    path("manage/open/<str:token>/", views.manage_link, name="manage_link"),
    path("manage/preferences/", views.preferences, name="preferences"),
    path("manage/pause/", views.pause, name="pause"),
    path("manage/resume/", views.resume, name="resume"),
    path("manage/unsubscribe/", views.manage_unsubscribe, name="manage_unsubscribe"),
    path("manage/resubscribe/", views.manage_resubscribe, name="manage_resubscribe"),
    path("manage/preview/", views.preview, name="preview"),
    path("manage/my-data.json", views.data_export, name="data_export"),
    path("manage/delete/", views.delete, name="delete"),
    path("manage/sign-out/", views.sign_out, name="sign_out"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
