"""Downloads of stored files (export files and codebooks, snapshots, plots): pages and API."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def stored_file_response(field: FieldFile, filename: str, content_type: str) -> FileResponse:
    """The stored file as an attachment; 404 when there is none or it is gone from storage."""
    if not field:
        raise Http404("no file")
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("the file is gone from storage") from None
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
