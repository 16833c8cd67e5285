-- examples/chat: generated data; deterministic (setseed). psql -v guests=N (default 300)
-- -v sessions=N (chats per guest, default 3) -v messages=N (messages per chat, default 10).
\if :{?guests}
\else
\set guests 300
\endif
\if :{?sessions}
\else
\set sessions 3
\endif
\if :{?messages}
\else
\set messages 10
\endif
SELECT setseed(0.42);

INSERT INTO chat.operators (name, email)
SELECT 'Operator ' || i, 'operator' || i || '@helpdesk.example' FROM generate_series(1, 20) i;
INSERT INTO chat.tags (name) VALUES ('sales'), ('support'), ('complaint'), ('vip'), ('spam');

WITH first_names(n, a) AS (SELECT array['Jan','Petra','Tomáš','Eva','Karel','Lucie','Marek','Zuzana','Piotr','Agnieszka'], 10),
     last_names(n, a) AS (SELECT array['Novák','Svobodová','Dvořák','Černá','Kowalski','Nowak','Procházka','Veselá','Wiśniewski','Horák'], 10)
INSERT INTO chat.guests (name, email, phone, ip, metadata, consent_version, created_at)
SELECT f.n[1 + (i * 7) % 10] || ' ' || l.n[1 + (i * 3) % 10],
       'guest' || i || '@mail.example',
       '+420 6' || lpad(((i * 7919) % 100000000)::text, 8, '0'),
       ('10.' || (i / 65536) % 256 || '.' || (i / 256) % 256 || '.' || i % 256)::inet,
       jsonb_build_object('address', (array['Vinohradská','Dlouhá','Masarykova','Polna','Krakowska'])[1 + i % 5]
                                     || ' ' || (1 + i % 90) || ', ' || (array['Praha','Brno','Kraków'])[1 + i % 3],
                          'browser', (array['Firefox','Chrome','Safari'])[1 + i % 3]),
       'chat-v' || (1 + i % 3),
       now() - (i || ' hours')::interval
       -- Some guests came long ago: every 25th over three years ago (retention erases them), the next one over two
       -- years ago (their messages expire), the next 100 days ago (their tracking events expire).
       - CASE i % 25 WHEN 0 THEN interval '3 years 1 month' WHEN 1 THEN interval '2 years 2 months'
                     WHEN 2 THEN interval '100 days' ELSE interval '0' END
  FROM generate_series(1, :guests) i, first_names f, last_names l;

-- Every tenth guest was referred by the previous one.
UPDATE chat.guests SET referred_by_id = id - 1 WHERE id % 10 = 0;

-- :sessions chats per guest.
INSERT INTO chat.chat_sessions (guest_id, operator_id, channel, visitor_ip, user_agent, started_at, ended_at)
SELECT g.id, 1 + (g.id + s) % 20,
       (array['web_chat','video_showroom','chatbot','offline_form'])[1 + (g.id + s) % 4],
       g.ip, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/' || (100 + s),
       g.created_at + (s || ' days')::interval, g.created_at + (s || ' days')::interval + interval '12 minutes'
  FROM chat.guests g, generate_series(1, :sessions) s;

-- :messages messages per chat; guests' messages mention their own name, e-mail, phone and address now and then.
INSERT INTO chat.messages (session_id, author_kind, body, sent_at)
SELECT cs.id,
       CASE WHEN m % 2 = 1 THEN 'guest' ELSE 'operator' END,
       CASE WHEN m = 1 THEN 'Hello, this is ' || split_part(g.name, ' ', 2) || ' about order ORD-' || lpad(cs.id::text, 6, '0')
            WHEN m = 3 THEN 'You can reach me at ' || g.email
            WHEN m = 5 THEN 'My number is ' || g.phone
            WHEN m = 7 THEN 'Deliver to ' || split_part(g.metadata->>'address', ',', 1) || ' please'
            WHEN m % 2 = 1 THEN 'Question ' || m || ' about my order'
            ELSE 'Operator answer ' || m || ', see https://shop.example/help' END,
       cs.started_at + (m || ' minutes')::interval
  FROM chat.chat_sessions cs JOIN chat.guests g ON g.id = cs.guest_id, generate_series(1, :messages) m;

INSERT INTO chat.attachments (message_id, filename, bytes)
SELECT m.id, 'photo-' || m.id || '.jpg', decode(md5(m.id::text), 'hex')
  FROM chat.messages m WHERE m.id % 7 = 0;

-- Consent texts (versioned; the 2023 contact-form text is retired) and the consents visitors gave.
SELECT gdpr.publish_consent_text('offline_contact', '2023-01',
         'We store your name, e-mail and phone to answer you.', 'https://shop.example/privacy/2023') AS old_text \gset
SELECT gdpr.retire_consent_text(:old_text);
SELECT gdpr.publish_consent_text('offline_contact', '2024-05',
         'We store your name, e-mail and phone to answer your message, for 12 months.',
         'https://shop.example/privacy') AS offline_text \gset
SELECT gdpr.publish_consent_text('chatbot_leads', '2024-05',
         'The assistant may keep your e-mail and phone so that an operator can contact you.',
         'https://shop.example/privacy') AS chatbot_text \gset
SELECT gdpr.publish_consent_text('marketing', '2024-05',
         'Send me news and offers by e-mail. I can unsubscribe at any time.',
         'https://shop.example/privacy') AS marketing_text \gset

INSERT INTO chat.offline_leads (guest_id, name, email, phone, message, consent_id)
SELECT g.id, g.name, g.email, g.phone, 'Please call me back, ' || g.name,
       gdpr.grant_consent(:offline_text, 'offline_form', 'guest', g.id::text)
  FROM chat.guests g WHERE g.id % 4 = 0;

-- Every other chatbot session asked for contact details.
INSERT INTO chat.chatbot_leads (session_id, email, phone, consent_id)
SELECT cs.id, g.email, g.phone, gdpr.grant_consent(:chatbot_text, 'chatbot', 'guest', g.id::text)
  FROM chat.chat_sessions cs JOIN chat.guests g ON g.id = cs.guest_id
 WHERE cs.channel = 'chatbot' AND cs.id % 2 = 0;

-- A third of the guests opted in to marketing; one in nine of those withdrew later.
SELECT count(gdpr.grant_consent(:marketing_text, 'web_chat_form', 'guest', g.id::text)) AS marketing_consents
  FROM chat.guests g WHERE g.id % 3 = 0 \gset
SELECT count(gdpr.withdraw_consent(c.id)) AS marketing_withdrawals
  FROM gdpr.consent c WHERE c.text_id = :marketing_text AND c.subject_id::bigint % 27 = 0 \gset

INSERT INTO chat.session_tags (session_id, tag_id)
SELECT cs.id, 1 + cs.id % 5 FROM chat.chat_sessions cs;

INSERT INTO chat.visitor_events (guest_ref, url, at)
SELECT g.id, 'https://shop.example/product/' || e || '?utm_source=chat', g.created_at + (e || ' minutes')::interval
  FROM chat.guests g, generate_series(1, 5) e;

INSERT INTO chat.notes (record_type, record_id, created_by, body)
SELECT 'Guest', g.id, 1 + g.id % 20, 'VIP customer ' || g.name FROM chat.guests g WHERE g.id % 5 = 0;
INSERT INTO chat.notes (record_type, record_id, created_by, body)
SELECT 'ChatSession', cs.id, 1, 'Escalated session of ' || g.email
  FROM chat.chat_sessions cs JOIN chat.guests g ON g.id = cs.guest_id WHERE cs.id % 9 = 0;

-- Calls: every fifth guest phoned (the PBX writes the number as digits, without "+"); some callers are unknown.
INSERT INTO chat.call_log (at, payload)
SELECT g.created_at + interval '1 hour',
       'caller: ' || regexp_replace(g.phone, '[^0-9]', '', 'g') || E'\nqueue: ' ||
       (array['sales','support'])[1 + g.id % 2] || E'\nduration: ' || (30 + g.id % 300)
  FROM chat.guests g WHERE g.id % 5 = 0;
INSERT INTO chat.call_log (at, payload)
SELECT now() - (i || ' hours')::interval, 'caller: 4207' || lpad(i::text, 8, '0') || E'\nqueue: sales\nduration: 12'
  FROM generate_series(1, 20) i;
ANALYZE;
