"""LANraragi's model of a library, over comicsrv's catalogue.

The archive API (``comicsrv.api.lanraragi``) speaks LANraragi; these services
translate: books to archive objects with namespaced tag strings, LANraragi's
search syntax to SQL, categories, uploads, thumbnails and minion jobs.
"""
