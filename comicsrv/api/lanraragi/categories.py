"""``/api/categories``: LANraragi's static and dynamic categories.

Each caller sees the server's categories and their own. A plain user's new
category is their own and only they change it; the server's categories and
the bookmark link are changed by curators (MetadataWrite), since every user
sees them (``comicsrv.lrr.categories``).
"""
from __future__ import annotations

from flask.views import MethodView

from ...lrr import categories as service
from ...lrr import stats
from ...lrr.archives import find_archive
from .auth import SECURITY, lrr_principal, lrr_user, reader, writer
from .common import (
    LrrBlueprint,
    current_operation,
    operation_body,
    operation_error,
    parse_arcid,
    validation_error,
)
from .schemas import (
    CategoryArgs,
    LrrCategoryIdSchema,
    LrrCategorySchema,
    LrrOperationSchema,
    LrrValidationErrorSchema,
)

blp = LrrBlueprint("lrr_categories", __name__, url_prefix="/api/categories",
                   description="LANraragi archive API: categories")

# Who may change the server's categories and the bookmark link.
CURATOR_PERMISSION = "MetadataWrite"
BAD_ID = {"schema": LrrValidationErrorSchema, "description": "Malformed or unknown category id"}


def _category_id(value: str) -> str:
    if len(value) != 14:
        word = "short" if len(value) < 14 else "long"
        raise validation_error(f"String is too {word}: {len(value)}/14.", "/id")
    return value


def _pinned(args: dict) -> bool:
    """LANraragi pins when the parameter is there and not "false"."""
    value = args.get("pinned")
    return value is not None and value.strip().lower() not in {"", "false", "0"}


def _curator() -> bool:
    principal = lrr_principal()
    return principal is not None and principal.can(CURATOR_PERMISSION)


def _changeable(category_id: str):
    """The category, if the caller may change it (their own, or the server's
    for a curator); LANraragi's 400 when they cannot see it, 403 otherwise."""
    return service.changeable_category(_category_id(category_id), lrr_user(), _curator())


def _book(arcid: str):
    operation = current_operation() or "category"
    if arcid.startswith("TANK_"):
        raise operation_error(operation, "This server has no tankoubons.")
    book = find_archive(lrr_user(), parse_arcid(arcid))
    if book is None:
        raise operation_error(operation, "This ID doesn't exist on the server.")
    return book


@blp.route("")
class CategoryList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrCategorySchema(many=True))
    @reader("get_category_list")
    def get(self):
        """Every category."""
        return service.category_objects(service.list_categories(lrr_user()), lrr_user())

    @blp.doc(security=SECURITY)
    @blp.arguments(CategoryArgs, location="query")
    @blp.response(200, LrrCategoryIdSchema)
    @blp.alt_response(400, schema=LrrOperationSchema, description="No name")
    @writer("create_category", "BooksWrite")
    def put(self, args):
        """Create a category: static, or dynamic when ``search`` is given. A
        curator's is the server's; anyone else's is their own."""
        owner = None if _curator() else lrr_user()
        category = service.create_category(args.get("name"), args.get("search"), _pinned(args),
                                           owner)
        return {"operation": "create_category", "category_id": category.id, "success": 1}


@blp.route("/bookmark_link")
class BookmarkLink(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrCategoryIdSchema)
    @reader("get_bookmark_link")
    def get(self):
        """The category the bookmark button adds to ("" when none)."""
        linked = service.bookmark_category()
        return {"operation": "get_bookmark_link", "success": 1,
                "category_id": linked.id if linked else ""}

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrCategoryIdSchema)
    @writer("remove_bookmark_link", CURATOR_PERMISSION)
    def delete(self):
        """Turn the bookmark feature off; answers the category it pointed to."""
        return {"operation": "remove_bookmark_link", "success": 1,
                "category_id": service.unlink_bookmark()}


@blp.route("/bookmark_link/<category_id>")
class BookmarkLinkUpdate(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrCategoryIdSchema)
    @blp.alt_response(400, **BAD_ID)
    @blp.alt_response(404, schema=LrrOperationSchema, description="No such category")
    @writer("update_bookmark_link", CURATOR_PERMISSION)
    def put(self, category_id):
        """Link the bookmark button to a static server category."""
        category = service.link_bookmark(_category_id(category_id))
        return {"operation": "update_bookmark_link", "success": 1, "category_id": category.id}


@blp.route("/<category_id>")
class CategoryItem(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrCategorySchema)
    @blp.alt_response(400, **BAD_ID)
    @reader("get_category")
    def get(self, category_id):
        """One category."""
        category = service.get_category(_category_id(category_id), lrr_user())
        return service.category_objects([category], lrr_user())[0]

    @blp.doc(security=SECURITY)
    @blp.arguments(CategoryArgs, location="query")
    @blp.response(200, LrrCategoryIdSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("update_category", "BooksWrite")
    def put(self, args, category_id):
        """Rename, change the search of, or (un)pin a category. Without
        ``pinned`` the category is unpinned, as in LANraragi."""
        category = _changeable(category_id)
        service.update_category(category, args.get("name"), args.get("search"), _pinned(args))
        return {"operation": "update_category", "category_id": category.id, "success": 1}

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("delete_category", "BooksWrite")
    def delete(self, category_id):
        """Delete a category (its archives stay). An id the caller cannot see
        is already gone for them, as in LANraragi."""
        category = service.find_category(_category_id(category_id), lrr_user())
        if category is not None:
            service.check_may_change(category, lrr_user(), _curator())
            service.delete_category(category)
        stats.clear_search_cache()
        return operation_body("delete_category")


@blp.route("/<category_id>/<arcid>")
class CategoryArchive(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("add_to_category", "BooksWrite")
    def put(self, category_id, arcid):
        """Add an archive to a static category."""
        category = _changeable(category_id)
        service.add_book(category, _book(arcid))
        return operation_body("add_to_category", success_message=(
            f"Added {arcid} to Category {category.id}!"))

    @blp.doc(security=SECURITY)
    @blp.response(200, LrrOperationSchema)
    @blp.alt_response(400, **BAD_ID)
    @writer("remove_from_category", "BooksWrite")
    def delete(self, category_id, arcid):
        """Remove an archive from a static category."""
        category = _changeable(category_id)
        service.remove_book(category, _book(arcid))
        return operation_body("remove_from_category", success_message=(
            f"Removed {arcid} from Category {category.id}!"))
