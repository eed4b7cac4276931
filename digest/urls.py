from django.urls import path

from digest import views

urlpatterns = [
    path("", views.home, name="home"),
    path("papers/<str:day>/", views.day, name="papers_day"),
]
