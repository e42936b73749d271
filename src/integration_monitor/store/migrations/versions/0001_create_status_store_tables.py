"""create status store tables

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-04 20:14:53.660403
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('database_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('database_code', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_kind', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('duplicate_count', sa.Integer(), nullable=False),
    sa.Column('signature_present_ratio', sa.Float(), nullable=True),
    sa.Column('signature_valid_ratio', sa.Float(), nullable=True),
    sa.Column('signature_failures', sa.JSON(), nullable=True),
    sa.Column('expectations_evaluated', sa.Integer(), nullable=True),
    sa.Column('expectations_failed', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('database_code', 'run_id', name='uq_database_checks_run')
    )
    with op.batch_alter_table('database_checks', schema=None) as batch_op:
        batch_op.create_index('ix_database_checks_code_time', ['database_code', 'checked_at'], unique=False)
        batch_op.create_index('ix_database_checks_time', ['checked_at'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('failure_kind', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_run', sa.String(length=250), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_run', sa.String(length=250), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_open', ['closed_at'], unique=False)
        batch_op.create_index('ix_incidents_subject', ['scope', 'subject', 'opened_at'], unique=False)

    op.create_table('service_statuses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_number', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('service_number', 'run_id', name='uq_service_statuses_run')
    )
    with op.batch_alter_table('service_statuses', schema=None) as batch_op:
        batch_op.create_index('ix_service_statuses_number_time', ['service_number', 'evaluated_at'], unique=False)
        batch_op.create_index('ix_service_statuses_time', ['evaluated_at'], unique=False)

    op.create_table('field_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('field_code', sa.String(length=64), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('completeness', sa.Float(), nullable=False),
    sa.Column('missing_count', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['database_checks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('check_id', 'field_code', name='uq_field_checks_field')
    )
    op.create_table('service_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('service_number', sa.Integer(), nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('failure_kind', sa.String(length=32), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['check_id'], ['database_checks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('check_id', 'service_number', name='uq_service_access_service')
    )


def downgrade() -> None:
    op.drop_table('service_access')
    op.drop_table('field_checks')
    with op.batch_alter_table('service_statuses', schema=None) as batch_op:
        batch_op.drop_index('ix_service_statuses_time')
        batch_op.drop_index('ix_service_statuses_number_time')

    op.drop_table('service_statuses')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_subject')
        batch_op.drop_index('ix_incidents_open')

    op.drop_table('incidents')
    with op.batch_alter_table('database_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_database_checks_time')
        batch_op.drop_index('ix_database_checks_code_time')

    op.drop_table('database_checks')
