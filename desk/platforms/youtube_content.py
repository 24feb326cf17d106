"""What a YouTube video may carry, checked by YouTube's documented rules, and the metadata sent with it.

- title: 1 to 100 characters, no < or >;
- description: at most 5000 bytes of UTF-8, no < or >; it defaults to the post's text and link;
- tags: at most 500 characters all together, where the commas between tags count, and a tag holding a
  space counts as if it were wrapped in quotation marks ("Foo Baz" is 9, Foo-Baz is 7);
- privacy: public, unlisted or private; exactly one video file, at most 256 GB and 12 hours.
Nothing is added to what was approved: the desk publishes exactly the words four eyes saw.
"""
from __future__ import annotations

from .base import Content, MediaItem, Problem

MAX_TITLE = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_LENGTH = 500
MAX_BYTES = 256 * 1024 ** 3
MAX_SECONDS = 12 * 3600
PRIVACY = ("public", "unlisted", "private")
_FORBIDDEN = ("<", ">")


def title_of(content: Content) -> str:
    return str(content.extra.get("title") or "").strip()


def description_of(content: Content) -> str:
    """The description as sent: the one written for YouTube, else the post's text with its link."""
    written = str(content.extra.get("description") or "").strip()
    if written:
        return written
    text = content.text.strip()
    if content.link and content.link not in text:
        text = f"{text}\n\n{content.link}".strip()
    return text


def tags_of(content: Content) -> list[str]:
    tags = content.extra.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(",")
    return [t for t in (" ".join(str(tag).split()) for tag in tags) if t]


def privacy_of(content: Content) -> str:
    return str(content.extra.get("privacy") or "public").strip().lower()


def tags_length(tags: list[str]) -> int:
    """The length YouTube counts against its 500: commas between tags, quotes around a tag with a space."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


def _brackets(text: str) -> str:
    return " and ".join(f"\u201c{c}\u201d" for c in _FORBIDDEN if c in text)


def text_problems(content: Content) -> list[Problem]:
    problems = []
    title = title_of(content)
    if not title:
        problems.append(Problem("title", "Give the video a title: YouTube requires one (at most 100 characters)."))
    elif len(title) > MAX_TITLE:
        problems.append(Problem("title", f"YouTube takes a title of at most {MAX_TITLE} characters; this one has "
                                f"{len(title)}. Shorten it by {len(title) - MAX_TITLE}."))
    if _brackets(title):
        problems.append(Problem("title", f"YouTube refuses {_brackets(title)} in a title: remove or replace them."))
    description = description_of(content)
    where = "description" if str(content.extra.get("description") or "").strip() else "text"
    size = len(description.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        problems.append(Problem(where, f"YouTube takes a description of at most {MAX_DESCRIPTION_BYTES} bytes; this "
                                f"one has {size} (accented letters take 2 bytes, most emoji and Chinese, Japanese "
                                f"or Korean characters 3 or 4). Shorten it by about {size - MAX_DESCRIPTION_BYTES} "
                                "bytes."))
    if _brackets(description):
        problems.append(Problem(where, f"YouTube refuses {_brackets(description)} in a description: remove or "
                                "replace them."))
    tags = tags_of(content)
    length = tags_length(tags)
    if length > MAX_TAGS_LENGTH:
        problems.append(Problem("tags", f"YouTube takes tags of at most {MAX_TAGS_LENGTH} characters together, "
                                "counting a comma between tags and 2 more for a tag with a space in it; these "
                                f"count {length}. Remove {length - MAX_TAGS_LENGTH} characters' worth."))
    if any(_brackets(t) for t in tags):
        problems.append(Problem("tags", "YouTube refuses \u201c<\u201d and \u201c>\u201d in tags: remove them."))
    if privacy_of(content) not in PRIVACY:
        problems.append(Problem("privacy", "Choose public, unlisted or private for the video."))
    return problems


def media_problems(media: tuple[MediaItem, ...]) -> list[Problem]:
    videos = [m for m in media if m.is_video]
    others = [m for m in media if not m.is_video]
    problems = []
    if not videos:
        problems.append(Problem("media", "A YouTube post is a video: attach one video file."))
    elif len(videos) > 1:
        problems.append(Problem("media", f"A YouTube post carries one video; this one has {len(videos)}. Keep one."))
    for item in others:
        problems.append(Problem("media", f"YouTube takes videos only: remove {item.filename or 'the'} "
                                f"{'image' if item.is_image else 'file'} ({item.mime_type}) from this channel."))
    for item in videos:
        if item.size > MAX_BYTES:
            problems.append(Problem("media", f"{item.filename or 'The video'} is larger than the 256 GB YouTube "
                                    "takes."))
        if item.duration and item.duration > MAX_SECONDS:
            problems.append(Problem("media", f"{item.filename or 'The video'} is longer than the 12 hours YouTube "
                                    "takes."))
    return problems


def video_resource(content: Content, category_id: str) -> dict:
    """The metadata sent when the upload session opens."""
    snippet = {"title": title_of(content), "description": description_of(content), "categoryId":
               str(content.extra.get("category_id") or category_id)}
    tags = tags_of(content)
    if tags:
        snippet["tags"] = tags
    # YouTube asks every upload whether it is made for children (COPPA): a force's videos are not.
    return {"snippet": snippet, "status": {"privacyStatus": privacy_of(content), "selfDeclaredMadeForKids": False}}
