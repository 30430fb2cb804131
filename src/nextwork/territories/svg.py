placeholder = True


def constituency_outline(code):
    return ""


def national_map():
    return ""
