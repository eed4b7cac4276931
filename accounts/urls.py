from django.urls import path

from accounts import views

urlpatterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
]
