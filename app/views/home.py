"""The landing page after staff sign in."""
from flask_appbuilder import IndexView


class HomeIndexView(IndexView):
    index_template = "home.html"
