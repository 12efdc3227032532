MSCK REPAIR TABLE {{ task.database | athena_ddl_identifier }}.{{ task.table | athena_ddl_identifier }}
