-- A hashtag's page reads its index in order and stops after a page: each tag row
-- carries its video's creation time (an edit used to stamp the edit's time), and
-- the index ends with the video id, the page's tie-break.
UPDATE video_tags SET created_at = COALESCE((SELECT v.created_at FROM videos v WHERE v.id = video_tags.video_id), created_at);
DROP INDEX IF EXISTS video_tags_tag;
CREATE INDEX video_tags_page ON video_tags(tag, created_at, video_id);
