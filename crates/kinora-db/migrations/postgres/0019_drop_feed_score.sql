-- For You is the recommender's (kinora-recommend); the SQL score that ordered the
-- first For You is no longer read, so it is no longer kept.
DROP INDEX IF EXISTS videos_feed;
ALTER TABLE videos DROP COLUMN feed_score;
