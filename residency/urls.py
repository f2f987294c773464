from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from residency import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("swaps/", include("swaps.urls")),
    path("generation/", include("scheduling.urls")),
    path("", include("scheduling.api_urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
