-- When the originals received at the center are due back at the point (received + the return days in
-- force then): the dashboard counts a package past it as an overdue return, from the record alone.
ALTER TABLE packages ADD COLUMN return_due_at timestamptz;
CREATE INDEX packages_return_due ON packages (center, return_due_at) WHERE state = 'received';
