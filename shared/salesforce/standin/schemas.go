package standin

// SystemStatusTopic is the built-in platform event topic.
const SystemStatusTopic = "/event/System_Status__e"

// AccountChangeTopic is the built-in Change Data Capture topic.
const AccountChangeTopic = "/data/AccountChangeEvent"

// systemStatusSchema is shaped like a real platform event schema: the
// standard CreatedDate and CreatedById, then nullable custom fields.
const systemStatusSchema = `{"type":"record","name":"System_Status__e","namespace":"com.sforce.eventbus","fields":[
 {"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},
 {"name":"CreatedById","type":"string","doc":"CreatedBy:EntityId"},
 {"name":"Context__c","type":["null","string"],"doc":"Data:Text:00N","default":null}]}`

// accountChangeSchema is shaped like a real CDC schema: the
// ChangeEventHeader first, then nullable object fields, including the
// compound BillingAddress.
const accountChangeSchema = `{"type":"record","name":"AccountChangeEvent","namespace":"com.sforce.eventbus","fields":[
 {"name":"ChangeEventHeader","type":{"type":"record","name":"ChangeEventHeader","fields":[
   {"name":"entityName","type":"string"},
   {"name":"recordIds","type":{"type":"array","items":"string"}},
   {"name":"changeType","type":{"type":"enum","name":"ChangeType","namespace":"com.sforce.eventbus","symbols":["CREATE","UPDATE","DELETE","UNDELETE","GAP_CREATE","GAP_UPDATE","GAP_DELETE","GAP_UNDELETE","GAP_OVERFLOW","SNAPSHOT"]}},
   {"name":"changeOrigin","type":"string"},
   {"name":"transactionKey","type":"string"},
   {"name":"sequenceNumber","type":"int"},
   {"name":"commitTimestamp","type":"long"},
   {"name":"commitNumber","type":"long"},
   {"name":"commitUser","type":"string"},
   {"name":"nulledFields","type":{"type":"array","items":"string"}},
   {"name":"diffFields","type":{"type":"array","items":"string"}},
   {"name":"changedFields","type":{"type":"array","items":"string"}}]},"doc":"Data:ComplexValueType"},
 {"name":"Name","type":["null","string"],"doc":"Data:Text","default":null},
 {"name":"Type","type":["null","string"],"doc":"Data:DynamicEnum","default":null},
 {"name":"ParentId","type":["null","string"],"doc":"Data:EntityId","default":null},
 {"name":"BillingAddress","type":["null",{"type":"record","name":"Address","fields":[
   {"name":"Street","type":["null","string"],"default":null},
   {"name":"City","type":["null","string"],"default":null},
   {"name":"State","type":["null","string"],"default":null},
   {"name":"PostalCode","type":["null","string"],"default":null},
   {"name":"Country","type":["null","string"],"default":null},
   {"name":"StateCode","type":["null","string"],"default":null},
   {"name":"CountryCode","type":["null","string"],"default":null},
   {"name":"Latitude","type":["null","double"],"default":null},
   {"name":"Longitude","type":["null","double"],"default":null},
   {"name":"GeocodeAccuracy","type":["null","string"],"default":null}]}],"doc":"Data:Address","default":null},
 {"name":"Phone","type":["null","string"],"doc":"Data:Phone","default":null},
 {"name":"Website","type":["null","string"],"doc":"Data:Url","default":null},
 {"name":"Industry","type":["null","string"],"doc":"Data:DynamicEnum","default":null},
 {"name":"AnnualRevenue","type":["null","double"],"doc":"Data:Currency","default":null},
 {"name":"NumberOfEmployees","type":["null","int"],"doc":"Data:Integer","default":null},
 {"name":"Description","type":["null","string"],"doc":"Data:TextArea","default":null},
 {"name":"OwnerId","type":["null","string"],"doc":"Data:EntityId","default":null},
 {"name":"CreatedDate","type":["null","long"],"doc":"Data:DateTime","default":null},
 {"name":"CreatedById","type":["null","string"],"doc":"Data:EntityId","default":null},
 {"name":"LastModifiedDate","type":["null","long"],"doc":"Data:DateTime","default":null},
 {"name":"LastModifiedById","type":["null","string"],"doc":"Data:EntityId","default":null}]}`
