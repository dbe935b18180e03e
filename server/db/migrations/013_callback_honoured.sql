-- A callback is done once a call made for it is qualified, whatever the qualification: before,
-- a final (or a plain) qualification of the callback's call left its callbacks row open, so
-- stats counted it as still to do. Counted closes without a qualification already close it
-- (carillon_contact_after); a new callback replaces it (carillon_attempt_qualify).
CREATE FUNCTION carillon_callback_honoured() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE callbacks SET done_at = NEW.qualified_at
     WHERE contact_id = NEW.contact_id AND done_at IS NULL AND due_at <= NEW.created_at;
    RETURN NULL;
END
$$;

CREATE TRIGGER attempts_callback_honoured
    AFTER UPDATE OF qualification ON attempts
    FOR EACH ROW WHEN (OLD.qualification IS NULL AND NEW.qualification IS NOT NULL)
    EXECUTE FUNCTION carillon_callback_honoured();
