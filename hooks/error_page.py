"""The 404 page links relatively, like every other page: it works from disk and under any sub-path.

MkDocs gives error pages absolute links from the server root (`/assets/...`, or the path of `site_url`) so
that they work at any depth on the one server the site was built for. This site has no `site_url` and is
meant to be opened from disk too: there `/assets/...` is the root of the file system, and under a sub-path
(`http://host/course/`) it is another site's root. Links relative to the 404 page's own place, the site
root, work in both, and wherever a server answers a missing page of the site's top folder with it.

A server that answers a missing page deeper down (`/course/part/gone.html`) with this page needs absolute
links again: set `site_url` to where the site is served, and MkDocs' own absolute links are kept.
"""
from __future__ import annotations

from mkdocs.utils import is_error_template, normalize_url

# The 404 page is written at the site root: its links start from there.
ROOT = "."


def on_template_context(context, template_name, config, **kwargs):
    """Re-root an error page's URLs (the `url` filter, extra CSS and JS) at the page itself, unless the
    site says where it is served (`site_url`)."""
    if not is_error_template(template_name) or config.site_url:
        return context
    context["base_url"] = ROOT
    # get_context() already joined these with the absolute base; join them again with the relative one.
    context["extra_css"] = [normalize_url(str(path), None, ROOT) for path in config.extra_css]
    context["extra_javascript"] = [normalize_url(str(script), None, ROOT) for script in config.extra_javascript]
    return context
