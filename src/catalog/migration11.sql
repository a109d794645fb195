-- Issue 17: each user's own language for the web interface (`en`, `zh-CN`); NULL follows
-- the browser (the language cookie, then Accept-Language, then `http.language`).
ALTER TABLE users ADD COLUMN language TEXT;
