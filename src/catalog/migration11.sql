-- Issue 17: each user's own language for the web interface (`en`, `zh-CN`); NULL follows
-- the browser (the language cookie, then Accept-Language, then `http.language`).
ALTER TABLE users ADD COLUMN language TEXT;

-- Issue 17: an event's message as a catalogue key and arguments (JSON, src/msg.rs), so that
-- alerts in another language than English say it in that language; NULL for older events
-- and those only written in English (`message` stays the English text).
ALTER TABLE events ADD COLUMN msg TEXT;
