-- Where each center stands (WGS-84): the network map's center features and the whole-city
-- recommendation (walking distance from the resident) need it. Null: not known yet (not on the map,
-- not recommended).
ALTER TABLE centers
  ADD COLUMN lat double precision CHECK (lat BETWEEN -90 AND 90),
  ADD COLUMN lng double precision CHECK (lng BETWEEN -180 AND 180),
  ADD CONSTRAINT centers_position_whole CHECK ((lat IS NULL) = (lng IS NULL));
