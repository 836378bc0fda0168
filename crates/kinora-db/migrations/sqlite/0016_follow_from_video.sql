-- The video a follow was made from (For You learns it as engagement with that
-- video); cleared when the video goes.
ALTER TABLE follows ADD COLUMN via_video_id TEXT REFERENCES videos(id) ON DELETE SET NULL;
