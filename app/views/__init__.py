"""Flask-AppBuilder screens."""


def register_views(appbuilder):
    pass
