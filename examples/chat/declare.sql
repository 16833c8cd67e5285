-- examples/chat: the PII declarations an application migration makes next to its DDL.
SELECT gdpr.declare_subject('guest', 'chat.guests');
SELECT gdpr.declare_subject('session', 'chat.chat_sessions');

SELECT gdpr.declare_pii('chat.guests', 'name', 'fake_name');
SELECT gdpr.declare_pii('chat.guests', 'email', 'fake_email');
SELECT gdpr.declare_pii('chat.guests', 'phone', 'fake_phone');
SELECT gdpr.declare_pii('chat.guests', 'ip', 'null', '{"category": "ip"}');
SELECT gdpr.declare_pii('chat.guests', 'metadata', 'jsonb',
                        '{"keys": {"address": "fake_address", "browser": "keep"}, "default": "null"}');
SELECT gdpr.declare_pii('chat.guests', 'consent_version', 'keep');
-- A referral points at another person: following it would erase the referrer too.
SELECT gdpr.exclude_reference('chat.guests', '{referred_by_id}');

SELECT gdpr.declare_pii('chat.chat_sessions', 'visitor_ip', 'null', '{"category": "ip"}');
SELECT gdpr.declare_pii('chat.chat_sessions', 'user_agent', 'null', '{"category": "device"}');

-- Message bodies keep their words; the guest's own name, e-mail, phone, address and generic patterns go.
SELECT gdpr.declare_pii('chat.messages', 'body', 'scrub');
SELECT gdpr.declare_erase_action('chat.attachments', 'delete');

SELECT gdpr.declare_pii('chat.offline_leads', 'name', 'fake_name');
SELECT gdpr.declare_pii('chat.offline_leads', 'email', 'fake_email');
-- mask says nothing about what the column holds: the category makes the phone findable (gdpr.find_guests).
SELECT gdpr.declare_pii('chat.offline_leads', 'phone', 'mask', '{"keep_first": 4, "keep_last": 0, "category": "phone"}');
SELECT gdpr.declare_pii('chat.offline_leads', 'message', 'null', '{"category": "free_text"}');
SELECT gdpr.declare_pii('chat.chatbot_leads', 'email', 'fake_email');
SELECT gdpr.declare_pii('chat.chatbot_leads', 'phone', 'fake_phone');

-- References the schema has no FOREIGN KEY for.
SELECT gdpr.declare_link('chat.visitor_events', '{guest_ref}', 'chat.guests', '{id}');
SELECT gdpr.declare_erase_action('chat.visitor_events', 'delete');
SELECT gdpr.declare_link('chat.notes', '{record_id}', 'chat.guests', '{id}',
                         type_col => 'record_type', type_value => 'Guest');
SELECT gdpr.declare_link('chat.notes', '{record_id}', 'chat.chat_sessions', '{id}',
                         type_col => 'record_type', type_value => 'ChatSession');
SELECT gdpr.declare_pii('chat.notes', 'body', 'scrub');

-- Contact data only with a consent of the right purpose; withdrawing it erases the lead.
SELECT gdpr.require_consent('chat.offline_leads', 'consent_id', 'offline_contact', on_withdraw => 'anonymize');
SELECT gdpr.require_consent('chat.chatbot_leads', 'consent_id', 'chatbot_leads', on_withdraw => 'anonymize');

-- Who marketing may e-mail: guests whose current marketing consent stands.
CREATE VIEW chat.marketing_contacts AS
SELECT g.id, g.name, g.email, m.consent_id, m.granted_at
  FROM chat.guests g
  JOIN gdpr.marketing_consents m ON m.subject_kind = 'guest' AND m.subject_id = g.id::text;

-- Late writes for an erased guest or session (a message from a chat window still open) are refused.
SELECT count(*) AS guarded_tables FROM gdpr.guard_erased_subjects();

-- Columns that may hold a person's identifiers with no key tying the row to them: searched in full.
SELECT gdpr.declare_traces('chat.call_log', '{payload}', 'scrub');

-- How long data is kept (CALL gdpr.enforce_retention(), nightly): tracking events 90 days, message bodies two
-- years (then scrubbed, with their attachments deleted), guests three years after they came (then erased whole).
SELECT gdpr.declare_retention('chat.visitor_events', 'at', interval '90 days');
SELECT gdpr.declare_retention('chat.messages', 'sent_at', interval '2 years', 'anonymize');
SELECT gdpr.declare_retention('chat.guests', 'created_at', interval '3 years');
