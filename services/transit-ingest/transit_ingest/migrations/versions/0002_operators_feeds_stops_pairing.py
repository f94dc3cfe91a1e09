"""Operators, file feeds with their rejection reports, GTFS stops, and re-pairable journeys.

Journeys now name their taps (on_tap_id, off_tap_id) instead of taps naming their journey, so a
bulk load never rewrites the taps it has just stored; the pairing queue drives (re)pairing. Taps are
keyed by (operator_id, tap_id) alone: one index fewer to maintain on every stored tap.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

LAUNCH_OPERATOR = ("leeds-bus", "Leeds bus (launch operator)")


def upgrade() -> None:
    op.create_table('operators',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('default_mode', sa.Text(), server_default='bus', nullable=False),
    sa.Column('fare_model', sa.Text(), server_default='variable', nullable=False),
    sa.Column('participant_id', sa.Text(), nullable=True),
    sa.Column('card_ref_field', sa.Text(), server_default='funding_source_id', nullable=False),
    sa.Column('timezone', sa.Text(), server_default='Europe/London', nullable=False),
    sa.Column('pairing_timeout_minutes', sa.Integer(), server_default='180', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.execute(sa.text("INSERT INTO operators (id, name) VALUES (:id, :name)")
               .bindparams(id=LAUNCH_OPERATOR[0], name=LAUNCH_OPERATOR[1]))
    op.execute("INSERT INTO operators (id, name) SELECT DISTINCT operator_id, operator_id FROM taps "
               "UNION SELECT DISTINCT operator_id, operator_id FROM card_links ON CONFLICT DO NOTHING")
    op.create_table('feeds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('format', sa.Text(), nullable=False),
    sa.Column('detected_format', sa.Text(), nullable=True),
    sa.Column('filename', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='queued', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('content_oid', sa.BigInteger(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('sha256', sa.Text(), nullable=True),
    sa.Column('bytes_read', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('lines_read', sa.BigInteger(), server_default='1', nullable=False),
    sa.Column('rows', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('accepted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('replaced', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('duplicates', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('ignored', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rejected', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_by', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('feeds_operator_created', 'feeds', ['operator_id', sa.text('created_at DESC'), 'id'], unique=False)
    op.create_index('feeds_waiting', 'feeds', ['created_at'], unique=False, postgresql_where=sa.text("status IN ('queued', 'processing')"))
    op.create_table('feed_errors',
    sa.Column('feed_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('line', sa.BigInteger(), nullable=False),
    sa.Column('field', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feed_id', 'seq')
    )
    op.create_table('stops',
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('stop_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id']),
    sa.PrimaryKeyConstraint('operator_id', 'stop_id')
    )
    op.create_table('pairing_queue',
    sa.Column('operator_id', sa.Text(), nullable=False),
    sa.Column('card_hash', sa.LargeBinary(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('operator_id', 'card_hash')
    )
    op.create_index('pairing_queue_due', 'pairing_queue', ['due_at'], unique=False)
    op.add_column('taps', sa.Column('version_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('taps', sa.Column('feed_id', sa.Uuid(), nullable=True))
    op.add_column('journeys', sa.Column('distance_source', sa.Text(), nullable=True))
    op.add_column('journeys', sa.Column('on_tap_id', sa.Text(), nullable=True))
    op.add_column('journeys', sa.Column('off_tap_id', sa.Text(), nullable=True))
    op.add_column('journeys', sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
    op.add_column('journeys', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.execute("""
        UPDATE journeys j SET on_tap_id = t.first_tap, off_tap_id = CASE WHEN t.taps > 1 THEN t.last_tap END
        FROM (SELECT journey_id, count(*) AS taps,
                     (array_agg(tap_id ORDER BY occurred_at))[1] AS first_tap,
                     (array_agg(tap_id ORDER BY occurred_at DESC))[1] AS last_tap
              FROM taps WHERE journey_id IS NOT NULL GROUP BY journey_id) t
        WHERE t.journey_id = j.id
    """)
    op.execute("UPDATE journeys SET revision = greatest(announced_revision, 1)")
    op.execute("DELETE FROM journeys WHERE on_tap_id IS NULL")
    op.alter_column('journeys', 'on_tap_id', nullable=False)
    op.drop_column('taps', 'journey_id')
    op.drop_constraint('taps_pkey', 'taps', type_='primary')
    op.drop_column('taps', 'id')
    op.drop_constraint('taps_operator_tap', 'taps', type_='unique')
    op.create_primary_key('taps_pkey', 'taps', ['operator_id', 'tap_id'])


def downgrade() -> None:
    op.drop_constraint('taps_pkey', 'taps', type_='primary')
    op.create_unique_constraint('taps_operator_tap', 'taps', ['operator_id', 'tap_id'])
    op.add_column('taps', sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False))
    op.create_primary_key('taps_pkey', 'taps', ['id'])
    op.add_column('taps', sa.Column('journey_id', sa.Text(), nullable=True))
    op.execute("UPDATE taps t SET journey_id = j.id FROM journeys j "
               "WHERE j.operator_id = t.operator_id AND t.tap_id IN (j.on_tap_id, j.off_tap_id)")
    op.drop_column('journeys', 'updated_at')
    op.drop_column('journeys', 'revision')
    op.drop_column('journeys', 'off_tap_id')
    op.drop_column('journeys', 'on_tap_id')
    op.drop_column('journeys', 'distance_source')
    op.drop_column('taps', 'feed_id')
    op.drop_column('taps', 'version_at')
    op.drop_index('pairing_queue_due', table_name='pairing_queue')
    op.drop_table('pairing_queue')
    op.drop_table('stops')
    op.drop_table('feed_errors')
    op.drop_index('feeds_waiting', table_name='feeds', postgresql_where=sa.text("status IN ('queued', 'processing')"))
    op.drop_index('feeds_operator_created', table_name='feeds')
    op.drop_table('feeds')
    op.drop_table('operators')
