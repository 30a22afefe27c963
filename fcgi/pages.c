/*
 * pages.c — the HTML shells.
 *
 *   GET PREFIX/            -> the home page
 *   GET PREFIX/room/<name> -> the same shell, opening room <name>
 *
 * Both render templates/app.html (loaded once at start-up) with values that
 * tmpl.c always HTML-escapes: the prefix, the view and the room name, which
 * comes from the URL and so is client text like any other.
 */
#include <string.h>

#include "noom.h"

void
h_page(struct ctx *c, const struct req *rq, struct resp *rs, enum route r)
{
	const char	*room = "", *why, *view = "home";
	struct tmpl_var	 vars[4];

	if (r == R_PAGE_ROOM) {
		room = rq->path + strlen("/room/");
		if (valid_text(room, 1, NOOM_ROOM_MAX, 0, &why) == -1) {
			resp_error(rs, 404, "not_found", "The room name %s.",
			    why);
			return;
		}
		view = "room";
	}
	vars[0] = (struct tmpl_var){ "prefix", rq->prefix };
	vars[1] = (struct tmpl_var){ "view", view };
	vars[2] = (struct tmpl_var){ "room", room };
	vars[3] = (struct tmpl_var){ "title", *room ? room : "Noom" };
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	rs->text = tmpl_render_new(c->app->tmpl_app, vars, 4);
}
